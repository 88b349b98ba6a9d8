"""A startproject-shaped Django project for the benchmarks (no database)."""
