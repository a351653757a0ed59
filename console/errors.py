"""NOVA-xxxx error codes: one plain message per failure kind, plus the underlying cause.

Screens, the CLI and the audit log all show `code`, `message` and `cause`; the code lets an
operator search the runbook, the message says what happened, the cause keeps the detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Code(Enum):
    """Known failure kinds. The value is (code, plain message)."""

    CONFIG_INVALID = ("NOVA-1001", "The configuration is invalid")
    CONFIG_UNKNOWN_CONTEXT = ("NOVA-1002", "No such context in the configuration")
    BACKEND_UNKNOWN = ("NOVA-1003", "No backend of that kind is installed")
    URI_REFUSED = ("NOVA-1004", "That connection URI is refused for safety")
    HOST_UNREACHABLE = ("NOVA-2001", "The host did not answer")
    TIMEOUT = ("NOVA-2002", "The call timed out")
    PERMISSION_DENIED = ("NOVA-2003", "Permission denied")
    HOST_KEY_UNKNOWN = ("NOVA-2004", "Host key unknown")
    HOST_KEY_CHANGED = ("NOVA-2005", "Host key changed")
    HOST_KEY_REVOKED = ("NOVA-2006", "Host key revoked")
    STORE_UNAVAILABLE = ("NOVA-2007", "The store (audit log and locks) is unavailable")
    VM_NOT_FOUND = ("NOVA-3001", "No such VM")
    INSUFFICIENT_RESOURCES = ("NOVA-3002", "Not enough resources on the host")
    OPERATION_IN_PROGRESS = ("NOVA-3003", "Another operation is in progress on this target")
    INVALID_STATE = ("NOVA-3004", "The VM is not in a state that allows this")
    AMBIGUOUS = ("NOVA-3005", "That name matches several VMs")
    NAME_TAKEN = ("NOVA-3006", "A VM with that name already exists")
    READ_ONLY = ("NOVA-4001", "Refused: the console is read-only")
    NOT_SUPPORTED = ("NOVA-4002", "This backend does not support that action")
    NOT_CONFIRMED = ("NOVA-4003", "Not confirmed")
    BACKEND_ERROR = ("NOVA-9000", "The backend reported an error")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def message(self) -> str:
        return self.value[1]


@dataclass
class NovaError(Exception):
    """An error an operator can act on: a code, a plain message, and the cause."""

    kind: Code
    detail: str = ""
    cause: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    @property
    def code(self) -> str:
        return self.kind.code

    def __str__(self) -> str:
        text = f"{self.kind.code}: {self.kind.message}"
        if self.detail:
            text += f": {self.detail}"
        if self.cause:
            text += f" (cause: {self.cause})"
        return text
