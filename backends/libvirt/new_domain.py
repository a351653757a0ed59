"""The XML of a new VM: its disk volume (an overlay on the template's base image) and its
domain (the disk, a NIC on the template's network, tags and the request id in metadata).

Pure string building, unit-testable without libvirt; every value is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .parse import TAGS_NS

REQUEST_NS = "https://novacron.dev/xmlns/request/1"
"""Namespace of the `<metadata>` element holding the request id that made the domain."""


def volume_xml(name: str, capacity_bytes: int, backing_path: str | None) -> str:
    """A qcow2 volume; with `backing_path`, an overlay on that (qcow2) image."""
    backing = "" if backing_path is None else (
        f"<backingStore><path>{escape(backing_path)}</path>"
        "<format type='qcow2'/></backingStore>")
    return (f"<volume><name>{escape(name)}</name>"
            f"<capacity unit='bytes'>{int(capacity_bytes)}</capacity>"
            f"<target><format type='qcow2'/></target>{backing}</volume>")


def domain_xml(*, name: str, uuid: str, vcpus: int, memory_bytes: int, disk_path: str,
               template: Mapping[str, Any], tags: tuple[str, ...], request_id: str) -> str:
    """A persistent domain booting from the template's kernel (when given) or its disk."""
    kib = memory_bytes // 1024
    max_kib = max(kib, int(template.get("max_memory") or 0) // 1024)
    max_vcpus = max(vcpus, int(template.get("max_vcpus") or 0))
    tag_xml = "".join(f"<tag>{escape(t)}</tag>" for t in tags)
    boot = "<boot dev='hd'/>"
    if template.get("kernel"):
        boot = (f"<kernel>{escape(template['kernel'])}</kernel>"
                + (f"<initrd>{escape(template['initrd'])}</initrd>" if template.get("initrd") else "")
                + (f"<cmdline>{escape(template['cmdline'])}</cmdline>" if template.get("cmdline")
                   else ""))
    nic = ""
    if template.get("network"):
        nic = (f"<interface type='network'><source network={quoteattr(template['network'])}/>"
               "<model type='virtio'/></interface>")
    log = escape(f"/var/log/libvirt/qemu/{name}-console.log")
    arch = quoteattr(template.get("arch", "x86_64"))
    machine = quoteattr(template.get("machine", "pc"))
    return f"""<domain type={quoteattr(template.get('domain_type', 'kvm'))}>
  <name>{escape(name)}</name>
  <uuid>{escape(uuid)}</uuid>
  <title>made by NovaCron</title>
  <metadata>
    <nova:tags xmlns:nova='{TAGS_NS}'>{tag_xml}</nova:tags>
    <novareq:request xmlns:novareq='{REQUEST_NS}'>{escape(request_id)}</novareq:request>
  </metadata>
  <memory unit='KiB'>{max_kib}</memory>
  <currentMemory unit='KiB'>{kib}</currentMemory>
  <vcpu placement='static' current='{vcpus}'>{max_vcpus}</vcpu>
  <os>
    <type arch={arch} machine={machine}>hvm</type>
    {boot}
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file={quoteattr(disk_path)}/>
      <target dev='vda' bus='virtio'/>
    </disk>
    {nic}
    <serial type='pty'>
      <log file='{log}' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='virtio'/>
  </devices>
</domain>
"""
