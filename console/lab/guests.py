"""Lab guests: their domain XML and their placement over the lab hosts.

Guests are persistent (defined, then started) so they survive a libvirtd restart and can be
migrated with `--persistent --undefinesource`. Tags go in the `<metadata>` element the
console's libvirt backend reads (`backends/libvirt/parse.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

TAGS_NS = "https://novacron.dev/xmlns/tags/1"
ROLES = ("web", "db", "cache", "batch")


@dataclass(frozen=True, slots=True)
class GuestSpec:
    """One lab guest and the host it is first placed on."""

    name: str
    host_index: int
    role: str
    memory_mib: int = 128
    dirty_mib: int = 32
    dirty_pause_s: int = 4


def plan(hosts: int, vms_per_host: int, memory_mib: int = 128,
         dirty_pause_s: int = 4) -> list[GuestSpec]:
    """`hosts * vms_per_host` guests named lab-vm-01…, dealt round-robin over the hosts."""
    total = hosts * vms_per_host
    width = max(2, len(str(total)))
    return [
        GuestSpec(name=f"lab-vm-{i + 1:0{width}d}", host_index=i % hosts + 1,
                  role=ROLES[i % len(ROLES)], memory_mib=memory_mib,
                  dirty_pause_s=dirty_pause_s)
        for i in range(total)
    ]


def domain_xml(guest: GuestSpec, kernel: Path, initrd: Path, accel: str) -> str:
    """Diskless direct-kernel boot: kernel and initrd on the shared images path."""
    tags = "".join(f"<tag>{escape(t)}</tag>" for t in ("env=lab", f"role={guest.role}"))
    cmdline = (f"console=ttyS0 quiet panic=-1 lab_dirty_mib={guest.dirty_mib} "
               f"lab_dirty_pause={guest.dirty_pause_s}")
    return f"""<domain type='{accel}'>
  <name>{escape(guest.name)}</name>
  <title>NovaCron lab guest</title>
  <metadata>
    <nova:tags xmlns:nova='{TAGS_NS}'>{tags}</nova:tags>
  </metadata>
  <memory unit='MiB'>{guest.memory_mib}</memory>
  <currentMemory unit='MiB'>{guest.memory_mib}</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(str(kernel))}</kernel>
    <initrd>{escape(str(initrd))}</initrd>
    <cmdline>{escape(cmdline)}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/{escape(guest.name)}-console.log' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='virtio'/>
  </devices>
</domain>
"""
