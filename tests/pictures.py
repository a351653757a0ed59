"""The README's pictures: the demo as `make run` opens it (its own Prometheus, live metrics and
alerts), each main screen exported as SVG by Textual, the way the snapshot tests do, and
converted to PNG with rsvg-convert. `make pictures` writes them into docs/.

Why not the snapshot files themselves: those render the demo without its Prometheus (a
snapshot must not change with the clock), so their CPU columns and charts are empty, which
is exactly what a newcomer should not see first. These pictures are for people; the
snapshots are for the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from console.app import NovaApp
from console.cli.tui import demo_metrics
from console.config import demo_context, load_settings
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from tests import wait_for

DOCS = Path(__file__).resolve().parent.parent / "docs"
SIZE = (160, 48)
WIDTH_PX = 1100
SCREENS = (
    ("inventory", "1", "the inventory: 60 VMs, CPU sparklines from the demo's Prometheus"),
    ("hosts", "2", "hosts: allocation against capacity, overcommit, CPU and memory used"),
    ("metrics", "4", "metrics: charts and the firing alerts"),
    ("detail", "1,enter", "a VM's detail"),
)


def has_figures(app: NovaApp) -> bool:
    snap = app.snapshot
    return (snap is not None and len(snap.vms) == 60
            and all(h.cpu_usage is not None for h in snap.hosts)
            and sum(v.cpu_used_cores is not None for v in snap.vms) > 30)


async def capture(out: Path) -> list[Path]:
    settings, _ = load_settings(None)
    made: list[Path] = []
    with demo_metrics(settings, "demo", demo_context()) as (context, feed):
        if feed is None:
            raise SystemExit("the demo's Prometheus did not start: `apt install prometheus`")
        fleet = Fleet("demo", build_backends(context, read_only=False),
                      interval_s=context.poll_interval_s)
        app = NovaApp(fleet, metrics_feed=feed, context_config=context)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: has_figures(app), timeout_s=60,
                           what="every host's CPU used and the VMs' CPU")
            await pilot.pause(8)  # a few more samples: sparklines with a shape
            for name, keys, _what in SCREENS:
                await pilot.press(*keys.split(","))
                await pilot.pause(3)
                made.append(_png(app.export_screenshot(title="NovaCron"), out / f"{name}.png"))
    return made


def _png(svg: str, target: Path) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".svg") as fh:
        fh.write(svg)
        fh.flush()
        subprocess.run(["rsvg-convert", "-w", str(WIDTH_PX), fh.name, "-o", str(target)],
                       check=True)
    if shutil.which("pngquant"):  # a third of the size, same look (text on flat colours)
        subprocess.run(["pngquant", "--force", "--skip-if-larger", "--output", str(target),
                        "--", str(target)], check=False)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="where the PNGs go (docs/)")
    args = parser.parse_args(argv)
    if shutil.which("rsvg-convert") is None:
        print("rsvg-convert is missing: apt install librsvg2-bin", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(capture(args.out)):
        print(f"{path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
