"""Dagster resources: the DuckDB warehouse and the Great Expectations context."""
