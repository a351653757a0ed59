"""The fleet: sources opened from a context, one polling loop per source, the immutable
`FleetSnapshot` each sweep produces, and what is computed from it (capacity, metrics
history, the inventory query language, the last snapshot kept for the next start)."""
