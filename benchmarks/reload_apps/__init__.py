"""Apps the reload measurement copies into a scratch directory and edits (see measure_reload.py)."""
