"""The libvirt backend (libvirt-python): hosts, VMs, lifecycle, snapshots, live migration.

`source` (the config entry and `KIND`, registered by entry point) stays light; `backend` and
the capability modules import libvirt, and are loaded only when a context opens a libvirt
source. `connect.open_connection` is the one place a connection is opened.
"""
