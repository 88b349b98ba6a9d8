"""Reload: a supervisor binds once and runs the app in worker subprocesses it swaps on code changes."""
