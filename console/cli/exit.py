"""One exit status for every `novacron` command, and one mapping from an error to it.

  0  ok (every target of an action succeeded)
  1  an action or check failed (the error says NOVA-xxxx, message and cause)
  2  bad usage or configuration (unknown option, ambiguous VM name, invalid config)
  3  refused before any backend call: read-only, not confirmed (--yes / --confirm NAME
     missing), another action running on the VM, the backend cannot do it, the VM's state
     does not allow it
  4  not found (no such VM or snapshot)
  5  timed out (e.g. a graceful shutdown the guest ignored: force-off is the next step)
With several targets, 1 wins over 3, 4 and 5; those only when every failure is of that kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from console.errors import Code, NovaError


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    REFUSED = 3
    NOT_FOUND = 4
    TIMED_OUT = 5
    INTERRUPTED = 130


_BY_CODE: dict[Code, ExitStatus] = {
    Code.CONFIG_INVALID: ExitStatus.USAGE,
    Code.CONFIG_UNKNOWN_CONTEXT: ExitStatus.USAGE,
    Code.BACKEND_UNKNOWN: ExitStatus.USAGE,
    Code.URI_REFUSED: ExitStatus.USAGE,
    Code.AMBIGUOUS: ExitStatus.USAGE,
    Code.READ_ONLY: ExitStatus.REFUSED,
    Code.NOT_CONFIRMED: ExitStatus.REFUSED,
    Code.OPERATION_IN_PROGRESS: ExitStatus.REFUSED,
    Code.NOT_SUPPORTED: ExitStatus.REFUSED,
    Code.INVALID_STATE: ExitStatus.REFUSED,
    Code.VM_NOT_FOUND: ExitStatus.NOT_FOUND,
    Code.TIMEOUT: ExitStatus.TIMED_OUT,
}


def exit_for(error: NovaError | None) -> ExitStatus:
    """The status one error means (OK for none; FAILED for any code not listed)."""
    if error is None:
        return ExitStatus.OK
    return _BY_CODE.get(error.kind, ExitStatus.FAILED)


def exit_for_all(errors: Iterable[NovaError | None]) -> ExitStatus:
    """Several targets: OK when none failed; one kind of status when every failure agrees;
    FAILED otherwise."""
    statuses = {exit_for(e) for e in errors} - {ExitStatus.OK}
    if not statuses:
        return ExitStatus.OK
    return statuses.pop() if len(statuses) == 1 else ExitStatus.FAILED
