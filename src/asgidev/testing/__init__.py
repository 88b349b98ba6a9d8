"""The public embedding API and pytest plugin."""
