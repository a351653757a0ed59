"""The `vsphere` backend kind: vCenter Server or ESXi through pyVmomi (see `source.py` for the
config entry, `backend.py` for the backend)."""
