"""Reusable widgets. They know nothing of backends or the fleet: screens feed them plain data."""
