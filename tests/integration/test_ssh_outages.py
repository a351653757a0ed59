"""Outages on the way to a hypervisor, with real sshd servers: a bastion that stops answering
(SIGSTOP: its ports stay open, nothing answers) and a hung hypervisor sshd.

Polls are made the way the fleet makes them (`hosts()` under the source's timeout). The
windows measured are printed (`-s` shows them); the assertions are about what an operator
sees (stale, then back by itself; the other host unaffected), not about speed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from console.errors import NovaError
from tests.integration.sshd_fixture import GUEST, SshLab, sshlab

__all__ = ["sshlab"]  # the fixture, used by name

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

POLL_TIMEOUT_S = 4.0
KEEPALIVE = (1, 2)
"""ServerAliveInterval 1, ServerAliveCountMax 2: a dead hop is dropped after about 3 s."""


async def poll(backend: Any) -> bool:
    """One fleet-style poll: True when the host answered."""
    try:
        async with asyncio.timeout(POLL_TIMEOUT_S):
            await backend.hosts()
            await backend.vms()
        return True
    except (NovaError, TimeoutError):
        return False


async def until(predicate: Any, limit_s: float, what: str) -> float:
    """Poll `predicate` (a coroutine function) until true; seconds it took."""
    started = time.monotonic()
    while not await predicate():
        if time.monotonic() - started > limit_s:
            raise AssertionError(f"after {limit_s:g} s: {what} never became true")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_bastion_stopped_mid_session_then_back(sshlab: SshLab) -> None:
    lab = sshlab
    config = lab.config(keepalive=KEEPALIVE)
    backends = {name: lab.backend(name, config, timeout_s=POLL_TIMEOUT_S) for name in ("kvm1", "kvm2")}
    try:
        for backend in backends.values():
            assert await poll(backend)
        lab.bastion.pause()
        stopped = time.monotonic()
        try:
            async def all_stale() -> bool:
                answers = await asyncio.gather(*(poll(b) for b in backends.values()))
                return not any(answers)

            stale_after = await until(all_stale, 60, "both hosts stale")

            async def links_dropped() -> bool:
                return not any(b.transport.link.connected for b in backends.values())

            await until(links_dropped, 60, "SSH keepalive dropped the links")
            dropped_after = time.monotonic() - stopped
        finally:
            lab.bastion.resume()
        resumed = time.monotonic()

        async def all_back() -> bool:
            answers = await asyncio.gather(*(poll(b) for b in backends.values()))
            return all(answers)

        back_after = await until(all_back, 90, "both hosts back")
        for backend in backends.values():
            assert [vm.name for vm in await backend.vms()] == [GUEST]
        print(f"\nbastion SIGSTOP: both hosts stale after {stale_after:.1f} s, SSH links dropped "
              f"after {dropped_after:.1f} s (keepalive {KEEPALIVE[0]} s x {KEEPALIVE[1]}); "
              f"back {back_after:.1f} s after SIGCONT ({time.monotonic() - resumed:.1f} s)")
    finally:
        for backend in backends.values():
            await backend.close()


async def test_hung_hypervisor_sshd_blocks_neither_the_loop_nor_the_other_host(sshlab: SshLab) -> None:
    lab = sshlab
    config = lab.config(keepalive=KEEPALIVE)
    hung = lab.backend("kvm1", config, timeout_s=POLL_TIMEOUT_S)
    other = lab.backend("kvm2", config, timeout_s=POLL_TIMEOUT_S)
    gaps: list[float] = []

    async def heartbeat() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    try:
        assert await poll(hung) and await poll(other)
        lab.hypervisors["kvm1"].pause()
        ticker = asyncio.create_task(heartbeat())
        hang_started = time.monotonic()
        try:
            rounds = []
            while time.monotonic() - hang_started < 8:
                rounds.append(await asyncio.gather(poll(hung), poll(other)))
        finally:
            ticker.cancel()
            lab.hypervisors["kvm1"].resume()
        hang_s = time.monotonic() - hang_started
        assert all(ok_other for _, ok_other in rounds), rounds  # kvm2 answered every round
        assert not any(ok_hung for ok_hung, _ in rounds[1:]), rounds  # kvm1 was stale
        # Not a speed check: a loop blocked by the hung host would show one gap as long as
        # the hang itself.
        assert max(gaps) < hang_s / 2, max(gaps)
        back = await until(lambda: poll(hung), 90, "kvm1 back after SIGCONT")
        print(f"\nhung kvm1 sshd for {hang_s:.1f} s: {len(rounds)} rounds, kvm2 answered all; "
              f"longest loop gap {max(gaps) * 1000:.0f} ms; kvm1 back {back:.1f} s after SIGCONT")
    finally:
        await hung.close()
        await other.close()
