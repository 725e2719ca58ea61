"""The DuckDB warehouse resource.

DuckDB allows one writer process per file. Every write connection first takes an exclusive
lock on `<warehouse>.lock`, so two runs (the CLI, the UI, a sensor, parallel steps) queue
for the warehouse instead of failing or trampling each other; the lock is re-entrant
within one process. Every asset writes inside one transaction, so a failed or killed run
leaves the last committed state (DuckDB's WAL replays or discards it on the next open).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import duckdb

SCHEMAS = ("ref", "raw", "audit", "staging", "intermediate", "marts", "indicators")


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse for longer than we were willing to wait."""


class _ProcessLock:
    """An flock on a file, re-entrant within this process (one per lock path)."""

    _registry: ClassVar[dict[str, _ProcessLock]] = {}
    _registry_guard = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self._depth = 0
        self._fd: int | None = None
        self._guard = threading.RLock()

    @classmethod
    def for_path(cls, path: Path) -> _ProcessLock:
        with cls._registry_guard:
            key = str(path)
            if key not in cls._registry:
                cls._registry[key] = cls(path)
            return cls._registry[key]

    @contextmanager
    def hold(self, timeout_s: float) -> Iterator[None]:
        with self._guard:
            if self._depth == 0:
                self._acquire(timeout_s)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None

    def _acquire(self, timeout_s: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise WarehouseBusy(
                        f"The warehouse {self.path.with_suffix('')} is being written by "
                        f"another run and did not become free within {timeout_s:.0f} s."
                    ) from None
                time.sleep(0.2)
        self._fd = fd


@contextmanager
def writer_lock(warehouse: Path, timeout_s: float = 3600) -> Iterator[None]:
    """Hold the warehouse's writer lock (the CLI holds it for a whole run)."""
    with _ProcessLock.for_path(Path(str(warehouse) + ".lock")).hold(timeout_s):
        yield


class Warehouse(dg.ConfigurableResource):
    """A DuckDB database file with the layered schemas of the flow."""

    path: str
    memory_limit: str = "5GB"
    threads: int = 2
    lock_timeout_s: float = 3600

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection; write connections hold the writer lock while open."""
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if read_only:
            conn = duckdb.connect(self.path, read_only=True, config=self._config())
            try:
                yield conn
            finally:
                conn.close()
            return
        with writer_lock(Path(self.path), self.lock_timeout_s):
            conn = duckdb.connect(self.path, config=self._config())
            try:
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

    def _config(self) -> dict[str, str | bool | int | float | list[str]]:
        return {"memory_limit": self.memory_limit, "threads": self.threads}


def first_row(conn: duckdb.DuckDBPyConnection, sql: str,
              params: Sequence[object] | Mapping[str, object] | None = None,
              ) -> tuple[Any, ...] | None:
    """The first row of a query that returns one row or none (a count, a LIMIT 1).

    Use this, not `execute(...).fetchone()`: after fetchone the result is still open,
    and DuckDB 2.0 then refuses `register()` and `sql()` on the connection ("unfinished
    result from execute()") until it is fetched to the end. fetchall finishes it.
    """
    rows = conn.execute(sql, params).fetchall() if params is not None \
        else conn.execute(sql).fetchall()
    return rows[0] if rows else None


def relation_type(conn: duckdb.DuckDBPyConnection, schema: str, name: str,
                  catalog: str | None = None) -> str | None:
    """'BASE TABLE' or 'VIEW' if `schema.name` exists in the connection's own database (or
    in the attached database `catalog`), else None."""
    row = first_row(
        conn,
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_catalog = coalesce(?, current_database()) AND table_schema = ? "
        "AND table_name = ?",
        [catalog, schema, name],
    )
    return str(row[0]) if row else None


def table_exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str,
                 catalog: str | None = None) -> bool:
    """Whether `schema.name` (a table or view) exists in the connection's own database, or
    in the attached `catalog` (a first run reads tables no run has made yet)."""
    return relation_type(conn, schema, name, catalog) is not None
