"""Where the guest is now decides how a migration ended (after a restart, or when adopted).

Pure: the tracker asks both hosts for the guest's `DomainPresence` and this module reads the
answer. The end of a migration passes through in-between states (the job still handing over,
the guest briefly active on both hosts), which are "not yet", never a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends.base import DomainPresence
from console.errors import Code, NovaError


@dataclass(frozen=True, slots=True)
class Outcome:
    """A settled migration: `error` is None when the guest runs on the target."""

    error: NovaError | None


def outcome_from(vm_name: str, source: DomainPresence, target: DomainPresence) -> Outcome | None:
    """The outcome the two hosts agree on, or None while they are still in between."""
    if source.migrating_out or target.migrating_in or (source.active and target.active):
        return None  # the job is still being handed over
    if target.active:
        return Outcome(None)
    where = ("still on the source" if source.active else
             "on neither host" if not target.present else "not running on the target")
    return Outcome(NovaError(Code.BACKEND_ERROR, vm_name,
                             f"the migration did not complete: the guest is {where}"))
