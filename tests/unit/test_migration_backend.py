"""libvirt migration flags, parameters and jobStats translation (pure)."""

from __future__ import annotations

import libvirt
import pytest

from backends.base import MigrationOptions
from backends.libvirt.migration import (
    migration_flags,
    migration_params,
    migration_uri,
    progress_from_stats,
)
from console.errors import NovaError
from console.models import MigrationPhase


def test_default_flags_are_live_p2p_persistent_undefine_source() -> None:
    flags = migration_flags(MigrationOptions())
    assert flags == (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
                     | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)


def test_option_flags() -> None:
    flags = migration_flags(MigrationOptions(auto_converge=True, post_copy=True,
                                             copy_storage="all", undefine_source=False))
    assert flags & libvirt.VIR_MIGRATE_AUTO_CONVERGE
    assert flags & libvirt.VIR_MIGRATE_POSTCOPY
    assert flags & libvirt.VIR_MIGRATE_NON_SHARED_DISK
    assert not flags & libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    with pytest.raises(NovaError):
        migration_flags(MigrationOptions(copy_storage="some"))


def test_migration_uri_names_the_destination_without_a_port() -> None:
    assert migration_uri("qemu+tcp://127.0.0.1:16612/system") == "tcp://127.0.0.1"
    assert migration_uri("qemu+ssh://root@kvm-2.example/system") == "tcp://kvm-2.example"
    assert migration_uri("qemu+tls://[fd00::2]/system") == "tcp://[fd00::2]"
    assert migration_uri("qemu:///system") is None


def test_params() -> None:
    params = migration_params(MigrationOptions(bandwidth_mib_s=8), "qemu+tcp://10.0.0.2/system")
    assert params == {"migrate_uri": "tcp://10.0.0.2", "bandwidth": 8}
    params = migration_params(MigrationOptions(migrate_uri="tcp://10.9.9.9:49152"), "qemu:///system")
    assert params == {"migrate_uri": "tcp://10.9.9.9:49152"}


def test_progress_from_job_stats() -> None:
    stats = {"type": 2, "operation": libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT,
             "data_total": 134_000_000, "data_processed": 50_000_000, "data_remaining": 84_000_000,
             "memory_bps": 8_388_608, "memory_dirty_rate": 1000, "memory_page_size": 4096,
             "memory_iteration": 2, "downtime": 300, "time_elapsed": 4500}
    m = progress_from_stats(stats, vm_id="u", vm_name="n", source="h1")
    assert m is not None and m.phase is MigrationPhase.RUNNING
    assert m.dirty_rate_bps == 4_096_000
    assert m.elapsed_s == 4.5 and m.expected_downtime_ms == 300 and m.iteration == 2
    assert progress_from_stats({"type": 0}, vm_id="u", vm_name="n", source="h1") is None
    snapshot_job = {"type": 2, "operation": libvirt.VIR_DOMAIN_JOB_OPERATION_SNAPSHOT}
    assert progress_from_stats(snapshot_job, vm_id="u", vm_name="n", source="h1") is None
    post = progress_from_stats(stats, vm_id="u", vm_name="n", source="h1", post_copy=True)
    assert post is not None and post.phase is MigrationPhase.POSTCOPY
