"""From "4 vCPUs, 16 GiB" to an instance type: the smallest type of the same family that fits.

EC2 sizes an instance by its type, not by numbers; a create or resize asked in vCPUs and
memory keeps the family (m5, c6g…: the same CPU, memory ratio and price per unit) and takes
its smallest size that has at least what was asked. Pure functions over DescribeInstanceTypes
records (`TypeSize`), no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from console.errors import Code, NovaError

from .inventory import TypeSize


def family_of(instance_type: str) -> str:
    """`m5` of `m5.xlarge`."""
    return instance_type.partition(".")[0]


def describe_size(name: str, size: TypeSize) -> str:
    return f"{name} ({size.vcpus} vCPU, {size.memory_bytes / 2**30:g} GiB)"


def smallest_fit(family: Mapping[str, TypeSize], *, vcpus: int | None,
                 memory_bytes: int | None) -> str:
    """The smallest type of `family` (name → size) with at least `vcpus` and `memory_bytes`
    (None: any); NOVA-3002 naming the largest when none is big enough."""
    if not family:
        raise NovaError(Code.CONFIG_INVALID, "no instance type of that family is offered here",
                        "choose another instance type in the template")
    ordered = sorted(family.items(), key=lambda kv: (kv[1].vcpus, kv[1].memory_bytes, kv[0]))
    for name, size in ordered:
        if size.vcpus >= (vcpus or 0) and size.memory_bytes >= (memory_bytes or 0):
            return name
    largest = describe_size(*ordered[-1])
    asked = ", ".join(part for part in (f"{vcpus} vCPU" if vcpus else "",
                                        f"{memory_bytes / 2**30:g} GiB" if memory_bytes else "")
                      if part)
    raise NovaError(Code.INSUFFICIENT_RESOURCES, f"no {family_of(ordered[-1][0])} type has "
                    f"{asked}", f"the largest is {largest}; ask for less or use another family")
