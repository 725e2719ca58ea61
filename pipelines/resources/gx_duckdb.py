"""The one workaround Great Expectations 1.x needs to run on DuckDB (drop it when upstream
fixes it).

Why: `SqlAlchemyExecutionEngine.execute_query` executes inside `with engine.connect()` and
returns the live cursor result *after* that block has closed the connection. Most drivers
keep the rows readable; duckdb-engine does not — DuckDB drops the pending result with the
connection, so every metric GX computes comes back empty and every expectation fails with
`MetricResolutionError: list index out of range` (upstream great_expectations issues
#10738 and #11579; a native DuckDB engine PR is still open).

What: for the `duckdb` dialect only, the result is buffered (`Result.freeze()`) while the
connection is still open and a detached, fully-read result is returned. GX's metric queries
return aggregates or at most a few hundred sample rows, so the buffer is small; tables are
never copied out of DuckDB. Other dialects go through the original method untouched.

`tests/test_gx_duckdb.py` shows the patch is needed (unpatched: the error) and that it
works (patched: correct results). When that test's "needed" half starts failing after a
GX upgrade, delete this module and its one call in `pipelines/resources/gx.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Imported on its own (e.g. by its test) this module is the first to load GX: analytics
# off first, as in pipelines/resources/gx.py.
os.environ["GX_ANALYTICS_ENABLED"] = "false"

from great_expectations.execution_engine import sqlalchemy_execution_engine as _see

_Engine = _see.SqlAlchemyExecutionEngine
_ORIGINAL: Callable[..., Any] = _Engine.execute_query
_MARK = "_imf_duckdb_buffered"


def _buffered_execute_query(self: Any, query: Any) -> Any:
    if self.dialect_name != "duckdb":
        return _ORIGINAL(self, query)
    with self.get_connection() as connection:
        result = self._execute_query_with_recovery(connection, query)
        # Read every row while the DuckDB connection is open; the frozen copy answers
        # fetchall/fetchmany/fetchone/scalar like the original result does.
        return result.freeze()()


setattr(_buffered_execute_query, _MARK, True)


def is_patched() -> bool:
    """Whether GX currently buffers DuckDB results."""
    return bool(getattr(_Engine.execute_query, _MARK, False))


def apply_duckdb_patch() -> None:
    """Make GX's SQL engine buffer DuckDB results (idempotent)."""
    if not is_patched():
        _Engine.execute_query = _buffered_execute_query  # type: ignore[method-assign]


def remove_duckdb_patch() -> None:
    """Restore GX's own `execute_query` (used by the test that proves the patch is needed)."""
    _Engine.execute_query = _ORIGINAL  # type: ignore[method-assign]


@contextmanager
def without_duckdb_patch() -> Iterator[None]:
    """Temporarily run GX unpatched, restoring the previous state afterwards."""
    was = is_patched()
    remove_duckdb_patch()
    try:
        yield
    finally:
        if was:
            apply_duckdb_patch()
