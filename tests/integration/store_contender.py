"""A console for the contention test: many actions on a few VMs, through the real dispatcher
and store, in its own process (the test runs two, each in a UTS namespace of its own with its
own hostname, as two bastions would).

    python store_contender.py STORE LABEL ATTEMPTS VMS SEED --ready FILE --go FILE

Each attempt waits a random moment (up to `SPREAD_S`), then runs `vm.reboot` on a random VM.
The backend is a small power-capable class whose reboot takes a few milliseconds: the store's
lock is what is under test, and it needs actions that last long enough to collide. One JSON
line per attempt on stdout: its status, audit id, error code and error text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from console.actions.dispatcher import Dispatcher, Request, Target
from console.models import VM, Host
from console.store import open_store

SPREAD_S = 2.0
HOLD_S = (0.002, 0.025)


class BusyBackend:
    """Reboots that take a few milliseconds, so two consoles' actions overlap."""

    kind = "contend"

    def __init__(self, name: str, rng: random.Random) -> None:
        self.name = name
        self.rng = rng

    async def hosts(self) -> Sequence[Host]:
        return ()

    async def vms(self) -> Sequence[VM]:
        return ()

    async def close(self) -> None:
        return None

    async def _take_a_moment(self) -> None:
        await asyncio.sleep(self.rng.uniform(*HOLD_S))

    async def start(self, vm_id: str) -> None:
        await self._take_a_moment()

    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> None:
        await self._take_a_moment()

    async def reboot(self, vm_id: str) -> None:
        await self._take_a_moment()

    async def force_off(self, vm_id: str) -> None:
        await self._take_a_moment()

    async def suspend(self, vm_id: str) -> None:
        await self._take_a_moment()

    async def resume(self, vm_id: str) -> None:
        await self._take_a_moment()

    async def delete(self, vm_id: str, remove_storage: bool = False) -> Sequence[str]:
        await self._take_a_moment()
        return ()


def wait_for_go(ready: Path, go: Path) -> None:
    """Say the store is open, then wait for the parent to start both consoles at once."""
    ready.touch()
    while not go.exists():
        time.sleep(0.005)


async def contend(store_at: str, label: str, attempts: int, vm_count: int, seed: int,
                  ready: Path, go: Path) -> None:
    rng = random.Random(seed)
    backend = BusyBackend("kvm-1", rng)
    async with open_store(store_at) as store:
        dispatcher = Dispatcher({"kvm-1": backend}, audit=store, context="contention",
                                read_only=False)
        await asyncio.to_thread(wait_for_go, ready, go)

        async def attempt(n: int) -> None:
            await asyncio.sleep(rng.uniform(0, SPREAD_S))
            vm = rng.randrange(vm_count)
            target = Target("kvm-1", f"uuid-{vm:02d}", f"vm-{vm:02d}")
            outcome = await dispatcher.run(Request("vm.reboot", target, confirmed=True,
                                                   origin=label))
            print(json.dumps({"n": n, "vm": vm, "status": outcome.status,
                              "audit_id": outcome.audit_id,
                              "code": outcome.error.code if outcome.error else "",
                              "error": str(outcome.error) if outcome.error else ""}), flush=True)

        await asyncio.gather(*(attempt(n) for n in range(attempts)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("label")
    parser.add_argument("attempts", type=int)
    parser.add_argument("vms", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--go", type=Path, required=True)
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(contend(args.store, args.label, args.attempts, args.vms, args.seed, args.ready,
                        args.go))
    print(json.dumps({"done": round(time.monotonic() - started, 2)}), flush=True)


if __name__ == "__main__":
    main()
