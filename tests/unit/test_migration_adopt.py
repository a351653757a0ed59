"""`sightings`: migrations started elsewhere, read off a fleet snapshot (pure, no host asked)."""

from __future__ import annotations

from console.migration.adopt import Sighting, sightings
from console.models import VM, FleetSnapshot, VMState


def vm(host: str, state: VMState = VMState.RUNNING, vm_id: str = "u1", *,
       stale: bool = False) -> VM:
    return VM(id=vm_id, name=f"vm-{vm_id}", state=state, host=host, backend=f"src-{host}",
              stale=stale)


def snap(*vms: VM) -> FleetSnapshot:
    return FleetSnapshot(context="t", taken_at=0, vms=vms)


def test_arriving_on_one_host_while_listed_on_another_is_a_migration() -> None:
    source, incoming = vm("h1"), vm("h2", VMState.MIGRATING)
    found = sightings(snap(source, incoming, vm("h3", vm_id="u2")))
    assert found == [Sighting(source, incoming)]
    assert found[0].key == ("u1", "src-h1", "src-h2")


def test_nothing_without_both_halves() -> None:
    assert sightings(snap(vm("h1"), vm("h2", vm_id="u2"))) == []
    # the source already undefined it (end of the hand-over): nothing left to follow
    assert sightings(snap(vm("h2", VMState.MIGRATING))) == []
    # paused for another reason on the target is no migration
    assert sightings(snap(vm("h1"), vm("h2", VMState.PAUSED))) == []


def test_followed_vms_and_stale_data_are_left_out() -> None:
    moving = (vm("h1"), vm("h2", VMState.MIGRATING))
    assert sightings(snap(*moving), followed={"u1"}) == []
    assert sightings(snap(vm("h1", stale=True), moving[1])) == []
    assert sightings(snap(moving[0], vm("h2", VMState.MIGRATING, stale=True))) == []


def test_a_shut_off_leftover_definition_is_not_a_source() -> None:
    found = sightings(snap(vm("h3", VMState.STOPPED), vm("h1"), vm("h2", VMState.MIGRATING)))
    assert [(s.source.host, s.incoming.host) for s in found] == [("h1", "h2")]


def test_both_halves_paused_gives_both_directions_running_source_first() -> None:
    both = sightings(snap(vm("h1", VMState.MIGRATING), vm("h2", VMState.MIGRATING)))
    assert sorted((s.source.host, s.incoming.host) for s in both) == [("h1", "h2"), ("h2", "h1")]
    three = sightings(snap(vm("h1", VMState.MIGRATING), vm("h2", VMState.MIGRATING),
                           vm("h3", VMState.PAUSED)))
    assert (three[0].source.host, three[0].incoming.host) in {("h3", "h1"), ("h3", "h2")}
    assert all(s.source.host != "h3" for s in three[2:])
