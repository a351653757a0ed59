"""The lab: real libvirt/KVM hosts on one machine, for rehearsal and integration tests.

`Lab(root=…).up(hosts, vms)`, `.status()`, `.down()`; see `console.lab.lab`.
"""

from console.lab.lab import Lab, LabError
from console.lab.layout import HostLayout, LabLayout
from console.lab.report import HostStatus, LabStatus, ProcStatus

__all__ = ["HostLayout", "HostStatus", "Lab", "LabError", "LabLayout", "LabStatus", "ProcStatus"]
