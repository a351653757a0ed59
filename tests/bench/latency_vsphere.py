"""The latency bench's vSphere row: the console over vcsim at the vSphere bench's scale.

`-dc 2 -cluster 10 -host 20 -vm 100` (`bench_vsphere.SIZE`): 402 hosts / 2,200 VMs, TLS with
the fixture's throw-away CA, credentials in VSPHERE_USER / VSPHERE_PASSWORD as the tests give
them. vcsim is its own process; the backend keeps its WaitForUpdatesEx stream open while the
console runs, as in production. The VM count to wait for is what vcsim lists through a second
pyVmomi connection. `bench_latency` picks this module up (`NOVACRON_BENCH_LATENCY=vsphere`);
pyVmomi is imported only inside `open`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from tests.bench import Skip
from tests.bench.bench_latency import Case
from tests.integration import vcsim_fixture as vf


def _open(stack: contextlib.ExitStack) -> tuple[Callable[[], list[Any]], int]:
    if not vf.VCSIM.exists():
        raise Skip(f"{vf.VCSIM} missing: `make setup test` builds it")
    from pyVmomi import vim

    from backends.vsphere.backend import VsphereBackend
    from backends.vsphere.session import Endpoint
    from tests.bench.bench_vsphere import SIZE

    sim = stack.enter_context(vf.running_vcsim(*SIZE))
    env = stack.enter_context(pytest.MonkeyPatch.context())  # undone when the case ends
    env.setenv("VSPHERE_USER", sim.user)
    env.setenv("VSPHERE_PASSWORD", sim.password)
    with vf.observer(sim) as si:
        listed = len(vf.all_of(si, vim.VirtualMachine, ["name"]))

    def backends() -> list[Any]:
        return [VsphereBackend("vc", Endpoint("127.0.0.1", sim.port, ca_file=sim.ca_file),
                               timeout_s=120)]

    return backends, listed


def cases() -> list[Case]:
    return [Case("vsphere", "vsphere (vcsim), 402 hosts / 2,200 VMs", _open, filter_text="vm42")]
