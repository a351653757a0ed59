"""Backend adapters: each turns one kind of source (libvirt, SSH, EC2, Azure, Prometheus) into
`console.models` values. No backend imports Textual, Rich, screens or widgets."""
