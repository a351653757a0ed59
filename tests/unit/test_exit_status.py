"""One mapping from what went wrong to the exit status, for every command."""

from __future__ import annotations

import pytest

from console.cli.exit import ExitStatus, exit_for, exit_for_all
from console.errors import Code, NovaError


@pytest.mark.parametrize(("code", "status"), [
    (Code.READ_ONLY, ExitStatus.REFUSED),
    (Code.NOT_CONFIRMED, ExitStatus.REFUSED),
    (Code.OPERATION_IN_PROGRESS, ExitStatus.REFUSED),
    (Code.NOT_SUPPORTED, ExitStatus.REFUSED),  # the same for `vm start` and `vm migrate`
    (Code.INVALID_STATE, ExitStatus.REFUSED),
    (Code.VM_NOT_FOUND, ExitStatus.NOT_FOUND),
    (Code.AMBIGUOUS, ExitStatus.USAGE),
    (Code.CONFIG_INVALID, ExitStatus.USAGE),
    (Code.TIMEOUT, ExitStatus.TIMED_OUT),
    (Code.HOST_UNREACHABLE, ExitStatus.FAILED),
    (Code.BACKEND_ERROR, ExitStatus.FAILED),
])
def test_each_error_has_one_status(code: Code, status: ExitStatus) -> None:
    assert exit_for(NovaError(code, "x")) is status


def test_every_code_is_mapped_deliberately() -> None:
    """A new code lands in FAILED unless it is listed: check the list when adding one."""
    statuses = {code: exit_for(NovaError(code)) for code in Code}
    assert statuses[Code.PERMISSION_DENIED] is ExitStatus.FAILED
    assert set(statuses.values()) <= set(ExitStatus)


@pytest.mark.parametrize(("codes", "status"), [
    ([], ExitStatus.OK),
    ([None, None], ExitStatus.OK),
    ([None, Code.READ_ONLY, Code.NOT_CONFIRMED], ExitStatus.REFUSED),
    ([Code.TIMEOUT, Code.TIMEOUT], ExitStatus.TIMED_OUT),
    ([Code.READ_ONLY, Code.VM_NOT_FOUND], ExitStatus.FAILED),  # mixed: 1 wins
    ([Code.BACKEND_ERROR, Code.READ_ONLY], ExitStatus.FAILED),
])
def test_several_targets(codes: list[Code | None], status: ExitStatus) -> None:
    assert exit_for_all(NovaError(c) if c else None for c in codes) is status
