"""What vSphere create and resize decide before asking vCenter: when a running VM can change
size (its hot-plug settings; vcsim enforces none of them, so these are checked here), sizes
vSphere refuses whatever the power state, tags as custom attributes, the template entry."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from backends.vsphere.create import tag_fields
from backends.vsphere.resize import check_sizes, live_refusals
from backends.vsphere.source import VsphereTemplate
from console.config import Context
from console.errors import Code, NovaError
from console.provision.templates import rows

ON = {"config.hardware.numCPU": 2, "config.hardware.memoryMB": 2048}
HOT = {"config.cpuHotAddEnabled": True, "config.cpuHotRemoveEnabled": True,
       "config.memoryHotAddEnabled": True}


@pytest.mark.parametrize(("settings", "vcpus", "memory_mb", "refused"), [
    ({}, 4, None, ["CPU hot-add"]),
    ({}, 1, None, ["CPU hot-remove"]),
    ({}, 2, 2048, []),  # the same size: nothing to hot-plug
    ({}, None, 4096, ["memory hot-add"]),
    ({}, 4, 4096, ["CPU hot-add", "memory hot-add"]),
    (HOT, 4, 4096, []),
    (HOT, 1, None, []),
    (HOT, None, 1024, ["cannot remove memory"]),  # no hot-remove of memory in vSphere
    ({"config.cpuHotAddEnabled": True}, 4, 4096, ["memory hot-add"]),
])
def test_what_stops_a_live_resize(settings: dict[str, Any], vcpus: int | None,
                                  memory_mb: int | None, refused: list[str]) -> None:
    why = live_refusals({**ON, **settings}, vcpus, memory_mb)
    assert len(why) == len(refused)
    for reason, expected in zip(why, refused, strict=True):
        assert expected in reason


def test_sizes_vsphere_refuses() -> None:
    with pytest.raises(NovaError) as odd_memory:
        check_sizes("web-1", ON, None, 1000 * 2**20 + 2**20)
    assert odd_memory.value.kind is Code.CONFIG_INVALID and "multiples of 4 MiB" in odd_memory.value.cause
    with pytest.raises(NovaError) as sockets:
        check_sizes("web-1", {**ON, "config.hardware.numCoresPerSocket": 2}, 3, None)
    assert "multiple of 2" in sockets.value.cause
    check_sizes("web-1", {**ON, "config.hardware.numCoresPerSocket": 2}, 4, 512 * 2**20)


def test_tags_become_custom_attributes() -> None:
    assert tag_fields(["role=pg", "env = prod", "backup", "=orphan", "k="]) == [
        ("role", "pg"), ("env", "prod"), ("backup", "true"), ("k", "")]


def test_the_template_entry() -> None:
    context = Context.model_validate({"templates": {"vs": {
        "kind": "vsphere", "vcpus": 2, "memory": "2GiB", "template_vm": "DC0/vm/tpl-debian",
        "resource_pool": "DC0/host/C0"}}})
    (row,) = rows(context)
    assert (row.kind, row.source, row.vcpus) == ("vsphere", "DC0/vm/tpl-debian", 2)
    assert context.templates["vs"].fields()["power_on"] is True
    with pytest.raises(ValidationError, match="template_vm"):
        Context.model_validate({"templates": {"vs": {"kind": "vsphere", "datastore": "ds1"}}})
    with pytest.raises(ValidationError, match="resource_poool"):
        VsphereTemplate.model_validate({"template_vm": "t", "resource_poool": "x"})
