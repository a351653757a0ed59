"""One failing profile/region pair does not make the whole AWS source stale (pure logic of
`backends.aws.sweep.assemble`; moto cannot fail one region while another answers)."""

from __future__ import annotations

from backends.aws.sweep import RegionListing, assemble
from console.models import VM, HostState, VMState


def listing(profile: str, region: str, *ids: str) -> RegionListing:
    vms = [VM(id=f"{profile}:{region}:{i}", name=i, state=VMState.RUNNING,
              host=f"{profile}:{region}a", backend="aws", vcpus=2) for i in ids]
    return RegionListing(vms, 2 * len(ids), set(ids), [f"{region}a", f"{region}b"])


def test_a_failed_pair_keeps_its_last_instances_stale_and_names_itself_on_its_zones() -> None:
    ok = ("alpha", "eu-west-1")
    broken = ("beta", "us-east-1")
    never = ("beta", "ap-southeast-2")
    old = listing(*broken, "i-old")
    sweep = assemble("aws", [ok, broken, never], {ok: listing(*ok, "i-1", "i-2")},
                     {broken: (old, 1000.0)},
                     {broken: "profile 'beta', us-east-1 not listed: throttled",
                      never: "profile 'beta', ap-southeast-2 not listed: denied"},
                     several_profiles=True, now=1060.0)
    fresh = {vm.name: vm.stale for vm in sweep.vms}
    assert fresh == {"i-1": False, "i-2": False, "i-old": True}
    assert next(vm for vm in sweep.vms if vm.name == "i-old").age_s == 60.0
    hosts = {h.name: h for h in sweep.hosts}
    assert not hosts["alpha:eu-west-1a"].stale and not hosts["alpha:eu-west-1b"].stale
    for name in ("beta:us-east-1a", "beta:us-east-1b"):
        assert hosts[name].state is HostState.STALE and "throttled" in hosts[name].error
    assert hosts["beta:ap-southeast-2"].stale and "denied" in hosts["beta:ap-southeast-2"].error
    assert sweep.quota_vcpus == {ok: 4}  # a stale count is not a capacity figure
    assert sweep.places["beta:us-east-1b"] == ("beta", "us-east-1", "us-east-1b")
