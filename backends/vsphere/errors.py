"""Map vSphere faults onto NOVA-xxxx codes, keeping the fault's name (and text) as the cause.

pyVmomi raises each SOAP fault as its own class (`vim.fault.InvalidPowerState`,
`vmodl.fault.ManagedObjectNotFound`…); the operator sees our plain message and the fault name
VMware's documentation and KB articles use.
"""

from __future__ import annotations

import http.client
import socket
import ssl

from pyVmomi import vim, vmodl

from console.errors import Code, NovaError

_BY_FAULT: tuple[tuple[type, Code], ...] = (
    (vim.fault.InvalidLogin, Code.PERMISSION_DENIED),
    (vim.fault.NotAuthenticated, Code.PERMISSION_DENIED),
    (vim.fault.NoPermission, Code.PERMISSION_DENIED),
    (vmodl.fault.ManagedObjectNotFound, Code.VM_NOT_FOUND),
    (vim.fault.NotFound, Code.VM_NOT_FOUND),
    (vim.fault.InvalidPowerState, Code.INVALID_STATE),
    (vim.fault.InvalidState, Code.INVALID_STATE),
    (vim.fault.ToolsUnavailable, Code.NOT_SUPPORTED),
    (vim.fault.TaskInProgress, Code.OPERATION_IN_PROGRESS),
    (vim.fault.InsufficientResourcesFault, Code.INSUFFICIENT_RESOURCES),
    (vim.fault.Timedout, Code.TIMEOUT),
    (vmodl.fault.MethodNotFound, Code.NOT_SUPPORTED),
    (vmodl.fault.NotSupported, Code.NOT_SUPPORTED),
    (vim.fault.NotSupportedHost, Code.NOT_SUPPORTED),
    (vmodl.fault.RequestCanceled, Code.BACKEND_ERROR),
)

CONNECTION_ERRORS = (OSError, http.client.HTTPException, socket.timeout)


def fault_name(fault: BaseException) -> str:
    """`InvalidPowerState`, as VMware names it (pyVmomi's WSDL name), else the class name."""
    return getattr(fault, "_wsdlName", "") or type(fault).__name__


def fault_text(fault: BaseException) -> str:
    """The fault's own words: its `msg`, else its localized messages, else nothing."""
    text = getattr(fault, "msg", None) or ""
    if not text:
        messages = getattr(fault, "faultMessage", None) or ()
        text = "; ".join(m.message for m in messages if getattr(m, "message", None))
    return str(text).strip()


def cause_of(fault: BaseException) -> str:
    text = fault_text(fault)
    return f"{fault_name(fault)}: {text}" if text else fault_name(fault)


def translate(fault: BaseException, detail: str = "", why: str = "") -> NovaError:
    """A NovaError for a pyVmomi fault (or a connection error): our code, `detail` naming
    what it was about, the fault name and text as the cause (`why` added in front)."""
    if isinstance(fault, NovaError):
        return fault
    if isinstance(fault, ssl.SSLCertVerificationError):
        return NovaError(Code.HOST_UNREACHABLE, detail,
                         f"certificate not trusted ({fault.verify_message}): set ca_file to the "
                         "CA that signed the vCenter certificate")
    if isinstance(fault, CONNECTION_ERRORS) and not isinstance(fault, vmodl.MethodFault):
        return NovaError(Code.HOST_UNREACHABLE, detail, f"{type(fault).__name__}: {fault}")
    kind = next((code for cls, code in _BY_FAULT if isinstance(fault, cls)), Code.BACKEND_ERROR)
    cause = cause_of(fault)
    if isinstance(fault, vim.fault.InvalidPowerState) and fault.existingState:
        cause = f"{cause} (it is {fault.existingState})"
    return NovaError(kind, detail, f"{why}; {cause}" if why else cause)
