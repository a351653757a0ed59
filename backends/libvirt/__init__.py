"""The libvirt backend (libvirt-python): hosts, VMs, lifecycle, snapshots, live migration."""

from . import events
from .backend import LibvirtBackend

events.silence_default_error_handler()

__all__ = ["LibvirtBackend"]
