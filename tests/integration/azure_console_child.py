"""A child process for the resume tests: a console's dispatcher starting one Azure action.

    python azure_console_child.py STORE BASE_URL CA_FILE SUBSCRIPTION VM_ID ACTION

It builds what the app builds for a context (the Azure backend on the real aio client, a
Store, the Dispatcher) and runs ACTION (e.g. `vm.start`) on VM_ID against the playback server.
It prints `token <audit id>` once the operation's resume token is in the audit row, and goes on
following the operation until it ends or, as the tests do, until it is killed (`kill -9`).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backends.azure.backend import AzureBackend
from backends.azure.source import AzureSource
from console.actions.dispatcher import Dispatcher, Request, Target
from console.store import open_store
from tests.integration.azure_playback import StaticToken


async def main(store_at: str, base_url: str, ca_file: str, subscription: str, vm_id: str,
               action: str) -> None:
    config = AzureSource(name="azure-prod", subscriptions=[subscription], base_url=base_url,
                         ca_bundle=ca_file, poll_interval_s=0.05)
    backend = AzureBackend(config, credential=StaticToken())
    async with open_store(store_at) as store:
        dispatcher = Dispatcher({backend.name: backend}, audit=store, context="azure",
                                read_only=False)
        running = asyncio.create_task(dispatcher.run(Request(
            action, Target(backend.name, vm_id, vm_id.rsplit("/", 1)[-1]), confirmed=True)))
        while not running.done():
            rows = await store.resumable_actions("azure", 0.0)
            if rows:
                print(f"token {rows[0].entry.id}", flush=True)
                break
            await asyncio.sleep(0.02)
        outcome = await running
        print(f"outcome {outcome.status}", flush=True)
    await backend.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
