"""Fixtures shared by the integration modules.

One backfilled Prometheus (2,000 hosts, 100,000 VMs) serves the whole session: backfilling
takes 10 to 30 s, and every module that needs it only reads from it (through its own proxy).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration import prometheus_fixture as pf
from tests.integration.aws_fixture import aws_world, moto_url  # noqa: F401  (one moto server a session)
from tests.integration.azure_playback import azure_arm, playback  # noqa: F401  (one a session)

FLEET = pf.Fleet()


@pytest.fixture(scope="session")
def prometheus() -> Iterator[pf.PrometheusServer]:
    with pf.backfilled_prometheus(FLEET) as server:
        yield server


@pytest.fixture
def proxied(prometheus: pf.PrometheusServer) -> Iterator[tuple[str, pf.Traffic]]:
    """A counting HTTP proxy in front of the shared Prometheus: (proxy URL, traffic)."""
    with pf.counting_proxy(prometheus.url) as (url, traffic):
        yield url, traffic
