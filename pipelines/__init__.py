"""Inclusive Mainstream Fund outcomes pipeline (Dagster code location)."""
