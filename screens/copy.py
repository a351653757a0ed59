"""What `y` / `Y` / `ctrl+y` copy: the selected VM's name, ID or first address, as plain text."""

from __future__ import annotations

from typing import Any

from console.models import VM

FIELDS = ("name", "id", "address")
MAX_COPY = 256
"""Longer text is not a VM name or address: refuse rather than fill a remote clipboard."""


def selected_vm(screen: Any) -> VM | None:
    """The VM the screen shows or has under its cursor (inventory, detail), else None."""
    pick = getattr(screen, "selected_vm", None)
    if callable(pick):
        vm = pick()
        return vm if isinstance(vm, VM) else None
    key = getattr(screen, "key", None)
    snapshot = getattr(screen.app, "snapshot", None)
    if isinstance(key, str) and snapshot is not None:
        return next((v for v in snapshot.vms if v.key == key), None)
    return None


def sanitize_for_clipboard(text: str) -> str:
    """Printable characters only: no control, escape or bidi characters reach the terminal."""
    bad = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}
    return "".join(ch for ch in text if ch.isprintable() and ch not in bad)[:MAX_COPY]


def vm_copy_text(screen: Any, field: str) -> str | None:
    """The text to copy for `field`, or None when no VM is selected or it has no such value."""
    vm = selected_vm(screen)
    if vm is None or field not in FIELDS:
        return None
    value = {"name": vm.name, "id": vm.id, "address": vm.addresses[0] if vm.addresses else ""}[field]
    text = sanitize_for_clipboard(value)
    return text or None
