"""What vcsim cannot exercise, as logic: a vMotion's progress from its task (vcsim's tasks end
at once and report none), a task vCenter says cannot be cancelled, and a guest request refused
because VMware Tools are not running (vcsim powers the VM off without Tools, and does not
implement RebootGuest at all). Faults are pyVmomi's own classes."""

from __future__ import annotations

import datetime as dt

import pytest
from pyVmomi import vim, vmodl

from backends.vsphere.actions import PowerMixin
from backends.vsphere.errors import translate
from backends.vsphere.migration import cancel_refusal, progress_of
from console.errors import Code
from console.models import MigrationPhase


def test_progress_from_a_running_relocate_task() -> None:
    started = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    info = {"info.state": "running", "info.progress": 40, "info.startTime": started}
    move = progress_of("uuid-1", "task-9", info, "web-01", "esx-01", now=started.timestamp() + 30)
    assert move.phase is MigrationPhase.RUNNING
    assert (move.data_total, move.data_processed, move.data_remaining) == (100, 40, 60)
    assert move.elapsed_s == 30 and move.id == "task-9" and move.source == "esx-01"


def test_a_task_without_progress_reports_an_unknown_total() -> None:
    move = progress_of("uuid-1", "task-9", {"info.state": "queued"}, "web-01", "esx-01")
    assert move.phase is MigrationPhase.QUEUED
    assert move.data_total == 0 and move.elapsed_s == 0


def test_a_task_vcenter_calls_not_cancelable_is_refused() -> None:
    refusal = cancel_refusal("web-01", {"info.cancelable": False})
    assert refusal is not None and refusal.kind is Code.NOT_SUPPORTED
    assert "not cancelable" in refusal.cause
    assert cancel_refusal("web-01", {"info.cancelable": True}) is None


class _GuestWithoutTools:
    """What a VM without running Tools answers to a guest request: ToolsUnavailable."""

    def RebootGuest(self) -> None:
        raise vim.fault.ToolsUnavailable(msg="VMware Tools is not running")

    ShutdownGuest = RebootGuest


@pytest.mark.parametrize("method", ["RebootGuest", "ShutdownGuest"])
def test_a_guest_request_without_tools_is_refused_pointing_at_force_off(method: str) -> None:
    with pytest.raises(Exception) as refused:
        PowerMixin._guest_call(None, _GuestWithoutTools(), method, "web-01")
    error = refused.value
    assert error.kind is Code.NOT_SUPPORTED  # type: ignore[attr-defined]
    assert "VMware Tools are not running" in error.cause and "force-off" in error.cause  # type: ignore[attr-defined]
    assert "ToolsUnavailable" in error.cause  # type: ignore[attr-defined]


@pytest.mark.parametrize(("fault", "code"), [
    (vim.fault.InvalidPowerState(existingState="suspended"), Code.INVALID_STATE),
    (vmodl.fault.ManagedObjectNotFound(msg="gone"), Code.VM_NOT_FOUND),
    (vim.fault.InvalidLogin(msg="Login failure"), Code.PERMISSION_DENIED),
    (vim.fault.NotAuthenticated(), Code.PERMISSION_DENIED),
    (vim.fault.NotFound(), Code.VM_NOT_FOUND),
    (vim.fault.TaskInProgress(), Code.OPERATION_IN_PROGRESS),
    (vim.fault.InsufficientResourcesFault(), Code.INSUFFICIENT_RESOURCES),
])
def test_faults_keep_their_name_as_the_cause(fault: Exception, code: Code) -> None:
    error = translate(fault, "web-01")
    assert error.kind is code and error.detail == "web-01"
    assert error.cause.startswith(type(fault).__name__.rsplit(".", 1)[-1])

