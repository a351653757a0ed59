"""NovaCron Console: the core (models, config, fleet, actions, store) and the shell (cli, app)."""

__version__ = "0.1.0"
