"""`Lab`: bring the whole lab up, report on it, and take it down — the API tests use.

`up` is idempotent and records each step in the state file as it goes; `down` undoes exactly
what the state file lists and then removes the lab root. Host-level controls (stop, continue,
kill, restart a libvirtd) let integration tests make a host go stale and come back.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

from console.config import config_path
from console.lab import (
    accel,
    bastion,
    context,
    deploy,
    host,
    hostdirs,
    image,
    pool,
    postgres,
    preflight,
    prometheus,
    ssh_access,
)
from console.lab.accounts import ensure_qemu_accounts
from console.lab.bastion import BastionLayout
from console.lab.guests import GuestSpec, plan
from console.lab.layout import BIND_TARGETS, DEFAULT_ROOT, HostLayout, LabLayout
from console.lab.procs import is_alive, signal_proc, stop, wait_gone
from console.lab.report import LabStatus, collect
from console.lab.state import HostState, LabState, load, save

DIRS_REGISTRY = image.CACHE_DIR / "created-dirs.json"
"""Machine directories created by some lab, shared by all labs (see `hostdirs`)."""


class LabError(RuntimeError):
    """A lab operation cannot proceed; the message says what to do."""


Progress = Callable[[str], None]
"""Told each step as it starts ("host labhost2: libvirtd, sshd, exporter"): the CLI prints
them, the console's lab dialog lists them. Called from the thread running `up`/`down`."""


def _silent(_step: str) -> None:
    pass


class Lab:
    """A lab rooted at `root` (default /var/lib/novacron-lab).

    `config_path=None` uses `console.config.config_path()`; `write_context=False` leaves the
    config alone. `port_offset` shifts every port (libvirtd 16510+offset+N, sshd 2220+…,
    exporter 19170+…, migration 49300+…, Prometheus 19090+offset) so a test lab with its own
    root can run beside a user's lab. The state file remembers the offset it was made with.
    """

    def __init__(self, root: Path | str = DEFAULT_ROOT, *, config_path: Path | None = None,
                 port_offset: int = 0, write_context: bool = True) -> None:
        recorded = load(Path(root) / "state.json").port_offset if Path(root).exists() else None
        self.layout = LabLayout(root=Path(root),
                                port_offset=port_offset if recorded is None else recorded)
        self._config_path = config_path
        self.write_context = write_context

    # --- queries ---------------------------------------------------------------------------

    def state(self) -> LabState:
        return load(self.layout.state_file)

    @property
    def bastion(self) -> BastionLayout:
        """The bastion every host of the `lab-ssh` context is reached through."""
        return BastionLayout(self.layout.root, self.layout.port_offset)

    @property
    def ssh_config(self) -> Path:
        """The ssh client config `lab up` writes (hosts behind the bastion)."""
        return self.layout.ssh_dir / "config"

    def hosts(self) -> list[HostLayout]:
        """The lab's hosts in index order (ports, URIs, migration URIs)."""
        indices = sorted(hs.index for hs in self.state().hosts.values())
        return [self.layout.host(i) for i in indices]

    def host(self, which: int | str) -> HostLayout:
        """A host by index (1-based) or name ('labhost2')."""
        index = which if isinstance(which, int) else int(str(which).removeprefix("labhost"))
        return self.layout.host(index)

    @property
    def prometheus_url(self) -> str:
        return self.layout.prometheus_url

    def config_path(self) -> Path:
        if self._config_path is not None:
            return self._config_path
        return config_path()

    # --- up / down -------------------------------------------------------------------------

    def up(self, hosts: int = 3, vms: int = 4, *, memory_mib: int = 128, dirty_pause_s: int = 4,
           accelerator: str | None = None, store: str = "sqlite",
           progress: Progress = _silent) -> LabStatus:
        """Start `hosts` hosts with `vms` guests each; keep whatever already runs.

        Additive: hosts beyond `hosts` and guests already defined (wherever they migrated to)
        are kept; missing daemons are restarted, missing guests defined, stopped ones started.

        `accelerator` 'kvm' or 'qemu' skips the KVM boot probe (see `console.lab.accel`);
        `dirty_pause_s` is the pause between two 32 MiB rewrites in each guest. `store`
        'postgresql' also starts a PostgreSQL (`console.lab.postgres`) and names it as the lab
        contexts' store, so several consoles can rehearse team mode; once started it is kept
        by later `up`s until `down`. `progress` is told each step as it starts.
        """
        if hosts < 1 or vms < 0:
            raise LabError("need at least one host and a non-negative number of guests")
        if problems := preflight.problems():
            raise LabError("\n".join(problems))
        with self._locked():
            st = self.state()
            self._up(st, hosts, plan(hosts, vms, memory_mib, dirty_pause_s), accelerator, store,
                     progress)
        return self.status()

    def _up(self, st: LabState, hosts: int, guests: list[GuestSpec],
            accelerator: str | None, store: str, say: Progress) -> None:
        def record() -> None:
            save(self.layout.state_file, st)

        st.port_offset = self.layout.port_offset
        record()
        say("accounts: the qemu user and group")
        ensure_qemu_accounts()
        say("guest image: kernel and initrd (made once, then cached)")
        kernel, initrd = image.ensure_images(self.layout.images_dir)
        if accelerator or not st.accel:
            say("accelerator: probing whether KVM boots a guest here")
            st.accel = accel.choose(kernel, initrd, accelerator, image.CACHE_DIR / "accel")
            record()
        st.created_dirs += hostdirs.ensure(BIND_TARGETS, DIRS_REGISTRY)
        record()
        host.ensure_keypair(self.layout.ssh_key, "novacron lab")
        self.layout.authorized_keys.write_text(self.layout.ssh_key.with_suffix(".pub").read_text())
        for index in range(1, hosts + 1):
            layout = self.layout.host(index)
            say(f"host {layout.name}: network namespace, libvirtd, sshd, exporter")
            hs = st.hosts.setdefault(layout.name, HostState(index=index))
            host.start_host(layout, self.layout, hs, record)
        all_hosts = self.hosts()
        say("bastion: sshd every lab-ssh host is reached through")
        st.bastion = st.bastion or HostState(index=0)
        bastion.start(self.bastion, self.layout.authorized_keys, st.bastion)
        record()
        ssh_access.write(self.layout.ssh_dir, self.bastion, all_hosts, self.layout.ssh_key)
        say("prometheus: scraping every host's exporter")
        st.prometheus = prometheus.ensure(self.layout, all_hosts, st.prometheus)
        record()
        if store == "postgresql" or st.postgres is not None:
            say("postgresql: the shared store")
            st.postgres = postgres.ensure(self.layout, st.postgres)
            record()
        conns = {h.index: deploy.connect(h.uri) for h in all_hosts}
        try:
            say("storage: the novacron-lab pool and its base image on every host")
            for conn in conns.values():
                pool.ensure_pool(conn, pool.pool_dir(self.layout.images_dir))
            pool.ensure_base_volume(next(iter(conns.values())))
            say(f"guests: {len(guests)} defined and started")
            names = deploy.ensure_guests(conns, guests, kernel, initrd, st.accel)
        finally:
            for conn in conns.values():
                conn.close()
        st.guests = sorted(set(st.guests) | set(names))
        record()
        if self.write_context:
            say(f"contexts: lab, lab-prom and lab-ssh written to {self.config_path()}")
            path = self.config_path()
            block = context.context_block([(h.name, h.uri) for h in all_hosts], self.prometheus_url,
                                          ssh_config=str(self.ssh_config),
                                          template=pool.LabTemplate(
                                              kernel, image.ensure_provision_initrd(
                                                  self.layout.images_dir), st.accel),
                                          store=self.layout.postgres_url if st.postgres else None)
            if st.config_path and st.config_path != str(path):
                # NOVACRON_CONFIG changed since the last `up`: one lab, one context.
                context.remove_context(Path(st.config_path), delete_if_empty=st.config_created)
                st.config_path = None
            created = context.write_context(path, block)
            if st.config_path is None:
                st.config_path, st.config_created = str(path), created
            record()

    def down(self, progress: Progress = _silent) -> list[str]:
        """Remove guests, processes, mounts, created dirs, the context and the lab root;
        `progress` is told each step as it starts."""
        if not self.layout.state_file.exists():
            return []
        say = progress
        with self._locked():
            st = self.state()
            recorded = [p for hs in st.hosts.values() for p in hs.procs.values()]
            recorded += [st.prometheus] if st.prometheus is not None else []
            ports = [port for hs in st.hosts.values() for port in self._ports(hs.index)]
            say(f"guests: {len(st.guests)} destroyed and undefined")
            removed = self._remove_guests(st)
            for hs in st.hosts.values():
                say(f"host {self.layout.host(hs.index).name}: daemons stopped, namespace removed")
                host.stop_host(self.layout.host(hs.index), hs)
                save(self.layout.state_file, st)
            if st.bastion is not None:
                say("bastion: stopped")
                bastion.stop_bastion(st.bastion)
                st.bastion = None
                save(self.layout.state_file, st)
            if st.prometheus is not None:
                say("prometheus: stopped")
                stop(st.prometheus)
                st.prometheus = None
            if st.postgres is not None:
                say("postgresql: stopped")
                stop(st.postgres, timeout=30)  # SIGTERM: a smart shutdown, then SIGKILL
                st.postgres = None
            if st.config_path:
                say(f"contexts: lab, lab-prom and lab-ssh removed from {st.config_path}")
                context.remove_context(Path(st.config_path), delete_if_empty=st.config_created)
            hostdirs.release(st.created_dirs, DIRS_REGISTRY)
            say("lab root: removed; waiting until every lab process and port is gone")
            self._remove_root()
            # Returns only when the lab is gone: an immediate `lab up` must not meet a daemon
            # still exiting (or not yet reaped) on its ports.
            left = wait_gone(recorded, [*ports, self.layout.prometheus_port])
            if left:
                raise LabError(f"still there after lab down: {', '.join(left)}")
        return removed

    def _ports(self, index: int) -> list[int]:
        h = self.layout.host(index)
        return [h.libvirt_port, h.ssh_port, h.exporter_port]

    def _remove_guests(self, st: LabState) -> list[str]:
        conns = []
        for hs in st.hosts.values():
            libvirtd = hs.procs.get("libvirtd")
            if libvirtd is None or not is_alive(libvirtd):
                continue  # its QEMU processes go with the namespace sweep
            signal_proc(libvirtd, signal.SIGCONT)
            with contextlib.suppress(deploy.libvirt.libvirtError):
                conns.append(deploy.connect(self.layout.host(hs.index).uri, attempts=5))
        try:
            return deploy.remove_all(conns)
        finally:
            for conn in conns:
                conn.close()

    def _remove_root(self) -> None:
        """Delete the lab root, refusing if anything is still mounted under it."""
        root = str(self.layout.root.resolve())
        mounted = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                   if line.split()[4] == root or line.split()[4].startswith(root + "/")]
        if mounted:
            raise LabError(f"still mounted under the lab root, not deleting it: {mounted}")
        shutil.rmtree(self.layout.root, ignore_errors=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One `lab up`/`lab down` at a time."""
        self.layout.root.mkdir(parents=True, exist_ok=True)
        with open(self.layout.root / "lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    # --- status ----------------------------------------------------------------------------

    def status(self) -> LabStatus:
        return collect(self)

    # --- host controls (for tests) ---------------------------------------------------------

    def _libvirtd(self, which: int | str) -> tuple[HostLayout, HostState]:
        layout = self.host(which)
        hs = self.state().hosts.get(layout.name)
        if hs is None or "libvirtd" not in hs.procs:
            raise LabError(f"{layout.name} is not part of the lab")
        return layout, hs

    def pause_libvirtd(self, which: int | str) -> None:
        """SIGSTOP: the host's port stays open but nothing answers (a hung host)."""
        signal_proc(self._libvirtd(which)[1].procs["libvirtd"], signal.SIGSTOP)

    def continue_libvirtd(self, which: int | str) -> None:
        signal_proc(self._libvirtd(which)[1].procs["libvirtd"], signal.SIGCONT)

    def kill_libvirtd(self, which: int | str) -> None:
        """SIGKILL libvirtd only: guests keep running, the host stops answering (a dead host)."""
        _layout, hs = self._libvirtd(which)
        proc = hs.procs["libvirtd"]
        signal_proc(proc, signal.SIGKILL)
        stop(proc)

    def restart_libvirtd(self, which: int | str) -> None:
        """Start libvirtd again in the same namespace; it re-attaches to its running guests."""
        layout, _ = self._libvirtd(which)
        with self._locked():
            st = self.state()
            hs = st.hosts[layout.name]
            old = hs.procs.get("libvirtd")
            if old is not None and is_alive(old):
                signal_proc(old, signal.SIGCONT)
                stop(old)
            host.start_daemon("libvirtd", layout, hs)
            save(self.layout.state_file, st)

    def pause_bastion(self) -> None:
        """SIGSTOP the bastion's sshd and sessions: its port stays open, nothing answers."""
        st = self.state()
        if st.bastion is not None:
            bastion.signal_all(st.bastion, signal.SIGSTOP)

    def continue_bastion(self) -> None:
        st = self.state()
        if st.bastion is not None:
            bastion.signal_all(st.bastion, signal.SIGCONT)
