"""The DuckDB warehouse resource.

DuckDB allows one writer process per file; every asset writes inside one transaction so
that a failed or killed run leaves the last committed state (DuckDB's WAL replays or
discards on the next open).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

SCHEMAS = ("ref", "raw", "audit", "staging", "intermediate", "marts", "indicators")


class Warehouse(dg.ConfigurableResource):
    """A DuckDB database file with the layered schemas of the flow."""

    path: str
    memory_limit: str = "8GB"
    threads: int = 2

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(
            self.path,
            read_only=read_only,
            config={"memory_limit": self.memory_limit, "threads": self.threads},
        )
        try:
            if not read_only:
                for schema in SCHEMAS:
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write connection whose work commits whole or not at all."""
        with self.connect() as conn:
            conn.execute("BEGIN TRANSACTION")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
