"""How a migration ended, read from where the guest is on its two hosts."""

from __future__ import annotations

import pytest

from backends.base import DomainPresence
from console.migration.outcome import outcome_from
from console.models import VMState

GONE = DomainPresence(present=False)
RUNNING = DomainPresence(present=True, active=True, state=VMState.RUNNING)
DEFINED = DomainPresence(present=True, active=False, state=VMState.STOPPED)
SENDING = DomainPresence(present=True, active=True, state=VMState.RUNNING, migrating_out=True)
RECEIVING = DomainPresence(present=True, active=True, state=VMState.MIGRATING, migrating_in=True)


@pytest.mark.parametrize(("source", "target"), [
    (SENDING, RECEIVING),  # the job runs
    (SENDING, GONE),  # the target has not created the incoming domain yet
    (GONE, RECEIVING),  # the source is gone, the target still paused for the hand-over
    (RUNNING, RUNNING),  # for an instant both run: the source is about to stop
])
def test_in_between_is_not_a_verdict(source: DomainPresence, target: DomainPresence) -> None:
    assert outcome_from("vm", source, target) is None


@pytest.mark.parametrize("source", [GONE, DEFINED])
def test_running_on_the_target_alone_is_done(source: DomainPresence) -> None:
    outcome = outcome_from("vm", source, RUNNING)
    assert outcome is not None and outcome.error is None


@pytest.mark.parametrize(("source", "target", "where"), [
    (RUNNING, GONE, "still on the source"),
    (GONE, GONE, "on neither host"),
    (GONE, DEFINED, "not running on the target"),
])
def test_anything_else_failed_and_says_where_the_guest_is(
        source: DomainPresence, target: DomainPresence, where: str) -> None:
    outcome = outcome_from("web-01", source, target)
    assert outcome is not None and outcome.error is not None
    assert where in str(outcome.error) and "web-01" in str(outcome.error)
