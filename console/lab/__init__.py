"""The lab: real libvirt/KVM hosts on one machine, for rehearsal and integration tests.

`console.lab.lab.Lab(root=…).up(hosts, vms)`, `.status()`, `.down()`. The package itself
imports nothing, so `novacron --version` and the other commands load libvirt only when a lab
command runs.
"""
