"""The Prometheus backend (prometheus-api-client): metrics, charts, top-N, firing alerts, and
the VM inventory of a whole fleet from the libvirt exporters' series in a handful of queries.

Modules, one job each: `source` (the config entry and `KIND`: light, registered by entry
point), `queries` (PromQL templates), `client` (HTTP on threads, timeouts), `errors` (NOVA
codes), `parse` (pure translation into models), `results` (small dataclasses), `charts`
(which templates make a chart), `backend` (the `Backend` the fleet polls), `host_actions`
(acting on an inventory's VMs through libvirt on their hosts).
"""

from .queries import Queries, matcher
from .results import HostUsage, QueryStats, Series, VMUsage

__all__ = ["HostUsage", "Queries", "QueryStats", "Series", "VMUsage", "matcher"]
