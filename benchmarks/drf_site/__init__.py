"""A Django REST framework project for the reload benchmarks (one model, a router)."""
