"""StandX-compatible exchange simulator. Imports nothing from ``standx`` or the Django apps."""
