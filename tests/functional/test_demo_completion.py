"""Shell completion as a user gets it: the bash script `novacron completion bash` prints,
sourced in a real bash, completes subcommands, and VM, host and context names from the
configuration and the demo fleet's last stored snapshot (polled for real here)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from console.config import demo_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.store import open_store

BIN = Path(sys.executable).parent


def complete(line: str, env: dict[str, str]) -> list[str]:
    """What bash offers for TAB at the end of `line` (`novacron` completed by its script,
    written once to `$NOVACRON_TEST_COMPLETION`)."""
    words = line.split(" ")
    script = (
        'source "$NOVACRON_TEST_COMPLETION"\n'
        f'COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=({line}'
        f'{" " + chr(39) + chr(39) if line.endswith(" ") else ""}); '
        f'COMP_CWORD={len(words) - 1}\n'
        '_shtab_novacron novacron; printf "%s\\n" "${COMPREPLY[@]}"\n')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return [w for w in out.stdout.splitlines() if w]


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text('[contexts.lab]\n\n[contexts.staging-eu]\n')
    env = {**os.environ, "NOVACRON_CONFIG": str(config),
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "NOVACRON_TEST_COMPLETION": str(tmp_path / "novacron.bash")}
    out = subprocess.run([str(BIN / "novacron"), "completion", "bash"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    (tmp_path / "novacron.bash").write_text(out.stdout)
    return env


async def _store_demo_snapshot() -> None:
    fleet = Fleet("demo", build_backends(demo_context(), read_only=True), timeout_s=60)
    try:
        snapshot = await fleet.poll_once()
    finally:
        await fleet.stop()
    async with open_store() as store:
        await store.save_snapshot("demo", snapshot)


def test_bash_completes_commands_and_names_from_the_last_snapshot(user_env: dict[str, str]
                                                                  ) -> None:
    assert shutil.which("bash")
    assert {"vm", "serve", "completion", "lab"} <= set(complete("novacron ", user_env))
    assert complete("novacron --context ", user_env) == ["lab", "staging-eu", "demo"]
    assert complete("novacron vm start api-prod-0", user_env) == []  # no snapshot yet

    asyncio.run(_store_demo_snapshot())
    assert complete("novacron vm start api-prod-0", user_env) == [
        "api-prod-01", "api-prod-02", "api-prod-03", "api-prod-04"]
    assert complete("novacron host drain kvm-ams", user_env) == ["kvm-ams-01", "kvm-ams-02"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_ask_for_the_same_names(shell: str, tmp_path: Path) -> None:
    user_env = {**os.environ, "NOVACRON_CONFIG": str(tmp_path / "none.toml")}
    out = subprocess.run([str(BIN / "novacron"), "completion", shell], capture_output=True,
                         text=True, env=user_env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "novacron completion --names vms" in out.stdout
    assert "novacron completion --names contexts" in out.stdout
    if shutil.which(shell):  # syntax-checked where the shell is installed
        check = ["zsh", "-n"] if shell == "zsh" else ["fish", "--no-execute"]
        assert subprocess.run([*check], input=out.stdout, text=True).returncode == 0
