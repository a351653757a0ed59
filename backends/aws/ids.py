"""How an EC2 instance is named inside the console: `<profile>:<region>:<instance-id>`.

One source may list several profiles (accounts) and regions, so the id a VM carries must say
where to send an action. Colons, not slashes: the console splits `vm:<source>/<id>` targets
at the last slash, and neither region names nor instance ids contain a colon (a profile name
may, so it is split off from the right).
"""

from __future__ import annotations

from dataclasses import dataclass

from console.errors import Code, NovaError

DEFAULT_PROFILE = "default"
"""The label of the default credential chain (no `profiles` configured)."""


@dataclass(frozen=True, slots=True)
class InstanceRef:
    profile: str
    region: str
    instance_id: str

    def __str__(self) -> str:
        return f"{self.profile}:{self.region}:{self.instance_id}"


def parse_ref(vm_id: str, known: dict[str, InstanceRef] | None = None) -> InstanceRef:
    """The instance `vm_id` names: `<profile>:<region>:<instance-id>`, or a bare instance id
    the last inventory saw (`known`, by instance id)."""
    profile, _, rest = vm_id.rpartition(":")
    profile, _, region = profile.rpartition(":")
    if profile and region and rest.startswith("i-"):
        return InstanceRef(profile, region, rest)
    if known and vm_id in known:
        return known[vm_id]
    raise NovaError(Code.VM_NOT_FOUND, repr(vm_id),
                    "an EC2 VM is addressed as <profile>:<region>:<instance-id>, as the "
                    "inventory lists it")


def host_name(profile: str, zone: str, *, several_profiles: bool) -> str:
    """The "host" of an instance: its availability zone (or dedicated host), prefixed with
    the profile when the source lists several accounts (zone names repeat across them)."""
    return f"{profile}:{zone}" if several_profiles else zone
