"""Where a lab host lives: its name, ports and directories, derived from its index alone.

Everything is a pure function of the lab root and the host index, so `lab up`, `lab status`,
`lab down` and the tests agree on ports and paths without asking a running daemon.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path("/var/lib/novacron-lab")
PROMETHEUS_PORT = 19090
POSTGRES_PORT = 15432

LIBVIRT_PORT_BASE = 16510
SSH_PORT_BASE = 2220
EXPORTER_PORT_BASE = 19170
MIGRATION_PORT_BASE = 49300
MIGRATION_PORTS_PER_HOST = 20

BIND_TARGETS = {
    "/var/lib/libvirt": "lib",
    "/etc/libvirt": "etc",
    "/var/log/libvirt": "log",
    "/var/cache/libvirt": "cache",
}
"""System directory each lab host sees privately -> its per-host source under the state dir."""

_UUID_NAMESPACE = uuid.UUID("8d1e6c62-1b1f-4c55-9a57-5e0e2f6e4c10")


@dataclass(frozen=True, slots=True)
class HostLayout:
    """One lab host's identity, ports and private directories."""

    index: int
    root: Path
    port_offset: int = 0
    """Added to every port: a second lab (tests) can run beside the user's."""

    @property
    def name(self) -> str:
        return f"labhost{self.index}"

    @property
    def host_uuid(self) -> str:
        """Stable per name, distinct per host: libvirt refuses to migrate to 'itself'."""
        return str(uuid.uuid5(_UUID_NAMESPACE, self.name))

    @property
    def libvirt_port(self) -> int:
        return LIBVIRT_PORT_BASE + self.port_offset + self.index

    @property
    def ssh_port(self) -> int:
        return SSH_PORT_BASE + self.port_offset + self.index

    @property
    def exporter_port(self) -> int:
        return EXPORTER_PORT_BASE + self.port_offset + self.index

    @property
    def migration_ports(self) -> tuple[int, int]:
        """Inclusive range; distinct per host so two hosts never race for a port."""
        low = MIGRATION_PORT_BASE + self.port_offset + self.index * MIGRATION_PORTS_PER_HOST
        return low, low + MIGRATION_PORTS_PER_HOST - 1

    @property
    def uri(self) -> str:
        return f"qemu+tcp://127.0.0.1:{self.libvirt_port}/system"

    @property
    def ssh_uri(self) -> str:
        return f"qemu+ssh://root@127.0.0.1:{self.ssh_port}/system"

    @property
    def migrate_uri(self) -> str:
        """A `--migrateuri` that lands in this host's migration port range."""
        return f"tcp://127.0.0.1:{self.migration_ports[0]}"

    @property
    def state_dir(self) -> Path:
        return self.root / self.name

    def bind_sources(self) -> dict[str, Path]:
        """System directory -> the per-host directory mounted over it."""
        return {target: self.state_dir / sub for target, sub in BIND_TARGETS.items()}

    @property
    def etc_dir(self) -> Path:
        """Seen as /etc/libvirt inside the host's namespace."""
        return self.state_dir / "etc"

    @property
    def sshd_dir(self) -> Path:
        return self.state_dir / "sshd"

    @property
    def logs_dir(self) -> Path:
        """Daemon stdout/stderr, outside the bind mounts so they survive for debugging."""
        return self.state_dir / "daemon-logs"


@dataclass(frozen=True, slots=True)
class LabLayout:
    """The lab's shared paths: state file, guest images, SSH key, Prometheus."""

    root: Path = DEFAULT_ROOT
    port_offset: int = 0

    def host(self, index: int) -> HostLayout:
        return HostLayout(index=index, root=self.root, port_offset=self.port_offset)

    @property
    def prometheus_port(self) -> int:
        return PROMETHEUS_PORT + self.port_offset

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def images_dir(self) -> Path:
        """Outside every bind mount, so all hosts see the same kernel/initrd (shared storage)."""
        return self.root / "images"

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def ssh_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.ssh_dir / "authorized_keys"

    @property
    def prometheus_dir(self) -> Path:
        return self.root / "prometheus"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def postgres_port(self) -> int:
        return POSTGRES_PORT + self.port_offset

    @property
    def postgres_dir(self) -> Path:
        """`lab up --store postgresql`: the team-mode store's server (data, socket, log)."""
        return self.root / "postgres"

    @property
    def postgres_url(self) -> str:
        """The store URL the lab contexts name (loopback, trust: a rehearsal, no secrets)."""
        return f"postgresql://postgres@127.0.0.1:{self.postgres_port}/novacron"
