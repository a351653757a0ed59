"""The Prometheus backend (prometheus-api-client): metrics, charts, top-N, firing alerts, and
the VM inventory of a whole fleet from the libvirt exporters' series in a handful of queries.

Modules, one job each: `queries` (PromQL templates), `client` (HTTP on threads, timeouts),
`errors` (NOVA codes), `parse` (pure translation into models), `results` (small dataclasses),
`backend` (the `Backend` the fleet polls).
"""

from .backend import PrometheusBackend
from .queries import Queries, matcher
from .results import HostUsage, QueryStats, Series, VMUsage

__all__ = ["HostUsage", "PrometheusBackend", "Queries", "QueryStats", "Series", "VMUsage",
           "matcher"]
