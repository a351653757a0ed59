"""The metrics screen when Prometheus is down or never answers: it says so, keeps drawing the
libvirt numbers, and keys still work; nothing crashes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from backends.prometheus.backend import PrometheusBackend
from console.app import NovaApp
from console.config import demo_context
from console.fleet.metrics_feed import MetricsFeed
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from screens.metrics import MetricsScreen


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never says a word (a hung Prometheus)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


async def _wait(predicate, pilot, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await pilot.pause(0.1)


@pytest.mark.parametrize("kind", ["refused", "silent"])
async def test_failing_prometheus_is_reported_and_the_screen_stays_usable(
    kind: str, silent_server: str,
) -> None:
    url = f"http://127.0.0.1:{_free_port()}" if kind == "refused" else silent_server
    feed = MetricsFeed([PrometheusBackend("prom", url, timeout_s=1.0)])
    fleet = Fleet("demo", build_backends(demo_context(), read_only=True), interval_s=30)
    app = NovaApp(fleet, metrics_feed=feed)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait(lambda: app.snapshot is not None and len(app.snapshot.vms) == 60, pilot)
        await pilot.press("4")
        screen = app.screen
        assert isinstance(screen, MetricsScreen)
        source = screen.query_one("#metrics-source")
        await _wait(lambda: "PROMETHEUS FAILING" in str(source.render()), pilot)
        text = str(source.render())
        assert ("NOVA-2001" in text) if kind == "refused" else ("NOVA-2002" in text), text
        # Still responsive: the window key changes the window, the cursor moves, 1 goes back.
        await pilot.press("w")
        assert "window: 1h" in str(source.render())
        before = screen.table.cursor_row
        await pilot.press("down")
        assert screen.table.cursor_row == before + 1
        await pilot.press("1")
        assert type(app.screen).__name__ == "InventoryScreen"
