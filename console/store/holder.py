"""Who holds a target, as a refusal names them (the same on every store engine)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from console.errors import Code, NovaError
from console.store import identity


def hostname() -> str:
    return socket.gethostname()


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a target: the action, its operator, when, and from which process."""

    action: str
    who: str
    started_iso: str
    pid: int | None
    hostname: str
    audit_id: int | None = None

    @classmethod
    def here(cls, action: str, audit_id: int | None = None) -> Holder:
        """This process, starting `action` now."""
        return cls(action, identity.local_user(), identity.now()[1], os.getpid(), hostname(),
                   audit_id)

    def describe(self, action_title: str | None = None) -> str:
        """'shut down, started by alice at 2025-...Z from pid 4242 on bastion-1'."""
        process = f"pid {self.pid} on {self.hostname}" if self.pid else f"host {self.hostname or '?'}"
        return (f"{action_title or self.action}, started by {self.who} at {self.started_iso} "
                f"from {process}")

    def still_running(self, action_title: str | None = None) -> str:
        """The cause of a NOVA-3003 refusal: what holds the target, and what to do."""
        return f"{self.describe(action_title)} is still running on it; wait for it to finish, " \
               "then try again"


class TargetBusy(NovaError):
    """Another unfinished action holds the target; `holder` says which and whose."""

    def __init__(self, target_name: str, holder: Holder) -> None:
        super().__init__(Code.OPERATION_IN_PROGRESS, target_name, holder.still_running())
        self.holder = holder
