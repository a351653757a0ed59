"""A toy backend kind: VMs kept in a JSON file (see README.md beside this package)."""
