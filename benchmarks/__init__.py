"""Benchmarks: measured, not asserted (see README.md here)."""
