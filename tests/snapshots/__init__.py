"""Test layer package (shared helpers import as tests.<layer>.<module>)."""
