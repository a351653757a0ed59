"""The lab's state file round-trips, and pids are only trusted with their start time."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from console.lab import hostdirs, procs
from console.lab.state import HostState, LabState, load, save


def test_missing_file_is_an_empty_lab(tmp_path: Path) -> None:
    st = load(tmp_path / "state.json")
    assert st.hosts == {} and st.prometheus is None and st.created_dirs == []


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "root" / "state.json"
    st = LabState(
        hosts={"labhost1": HostState(index=1, procs={"holder": procs.Proc(10, 99)},
                                     mounts=["/run", "/var/lib/libvirt"])},
        prometheus=procs.Proc(20, 100), created_dirs=["/var/lib/libvirt"],
        guests=["lab-vm-01"], config_path="/x/config.toml", config_created=True,
        accel="qemu", port_offset=100,
    )
    save(path, st)
    assert load(path) == st
    assert not path.with_suffix(".tmp").exists()
    assert json.loads(path.read_text())["hosts"]["labhost1"]["procs"]["holder"] == {
        "pid": 10, "start_time": 99}


def test_unknown_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(ValueError, match="version"):
        load(path)


def test_a_reused_pid_is_not_our_process() -> None:
    me = procs.Proc(os.getpid(), procs.start_time_of(os.getpid()) or 0)
    assert procs.is_alive(me)
    assert not procs.is_alive(procs.Proc(me.pid, me.start_time + 1))
    assert not procs.signal_proc(procs.Proc(me.pid, me.start_time + 1), 0)


def test_spawned_process_is_detached_and_stoppable(tmp_path: Path) -> None:
    proc = procs.spawn(["sleep", "30"], tmp_path / "sleep.log")
    assert procs.is_alive(proc)
    assert os.getsid(proc.pid) != os.getsid(0)  # another session: survives the caller's terminal
    ppid = int(Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert ppid != os.getpid()  # not our child: no zombie to reap here
    procs.stop(proc, timeout=2)
    assert not procs.is_alive(proc)


def test_spawn_reports_a_program_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        procs.spawn(["/nonexistent/program"], tmp_path / "x.log")


def test_created_host_dirs_are_released_by_the_last_lab(tmp_path: Path) -> None:
    registry = tmp_path / "cache" / "created-dirs.json"
    a, b = str(tmp_path / "a" / "libvirt"), str(tmp_path / "b")
    Path(b).mkdir()
    assert hostdirs.ensure([a, b], registry) == [a]  # b existed: not ours to remove
    assert hostdirs.ensure([a, b], registry) == []  # a second lab creates nothing
    assert hostdirs.release([], registry) == [a]  # the registry remembers a for any lab
    assert not Path(a).exists() and Path(b).exists()
    assert not registry.exists()


def test_a_directory_in_use_is_kept(tmp_path: Path) -> None:
    registry = tmp_path / "created-dirs.json"
    target = str(tmp_path / "lib")
    hostdirs.ensure([target], registry)
    (Path(target) / "someone-elses-file").write_text("x")
    assert hostdirs.release([target], registry) == []
    assert Path(target).exists()
