"""Map libvirt's error numbers onto NOVA-xxxx codes, keeping libvirt's text as the cause."""

from __future__ import annotations

import libvirt

from console.errors import Code, NovaError

_BY_ERROR: dict[int, Code] = {
    libvirt.VIR_ERR_NO_DOMAIN: Code.VM_NOT_FOUND,
    libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT: Code.VM_NOT_FOUND,
    libvirt.VIR_ERR_OPERATION_INVALID: Code.INVALID_STATE,
    libvirt.VIR_ERR_OPERATION_DENIED: Code.PERMISSION_DENIED,
    libvirt.VIR_ERR_ACCESS_DENIED: Code.PERMISSION_DENIED,
    libvirt.VIR_ERR_AUTH_FAILED: Code.PERMISSION_DENIED,
    libvirt.VIR_ERR_NO_SUPPORT: Code.NOT_SUPPORTED,
    libvirt.VIR_ERR_OPERATION_UNSUPPORTED: Code.NOT_SUPPORTED,
    libvirt.VIR_ERR_OPERATION_TIMEOUT: Code.TIMEOUT,
    libvirt.VIR_ERR_AGENT_UNRESPONSIVE: Code.TIMEOUT,
    libvirt.VIR_ERR_NO_CONNECT: Code.HOST_UNREACHABLE,
    libvirt.VIR_ERR_RPC: Code.HOST_UNREACHABLE,
    libvirt.VIR_ERR_SYSTEM_ERROR: Code.HOST_UNREACHABLE,
    libvirt.VIR_ERR_INVALID_CONN: Code.HOST_UNREACHABLE,
    libvirt.VIR_ERR_OPERATION_ABORTED: Code.BACKEND_ERROR,
    libvirt.VIR_ERR_MIGRATE_UNSAFE: Code.INVALID_STATE,
    libvirt.VIR_ERR_OPERATION_IN_PROGRESS if hasattr(libvirt, "VIR_ERR_OPERATION_IN_PROGRESS")
    else -1: Code.OPERATION_IN_PROGRESS,
}

CONNECTION_CODES = frozenset({Code.HOST_UNREACHABLE})


def translate(err: libvirt.libvirtError, detail: str = "") -> NovaError:
    """Turn a libvirtError into a NovaError whose cause is libvirt's own message."""
    number = err.get_error_code()
    message = err.get_error_message() or str(err)
    kind = _BY_ERROR.get(number, Code.BACKEND_ERROR)
    if kind is Code.BACKEND_ERROR and "job" in message.lower() and "active" in message.lower():
        kind = Code.OPERATION_IN_PROGRESS
    if kind is Code.BACKEND_ERROR and "insufficient" in message.lower():
        kind = Code.INSUFFICIENT_RESOURCES
    return NovaError(kind, detail, message)
