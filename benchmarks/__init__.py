"""Reproducible performance runs (not tests)."""
