"""`first_row` leaves the connection free for `register()`; `fetchone()` does not."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from pipelines.resources.warehouse import first_row


def test_first_row_then_register() -> None:
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t AS SELECT * FROM range(3) r(n)")
    assert first_row(conn, "SELECT count(*) FROM t") == (3,)
    assert first_row(conn, "SELECT n FROM t WHERE n = ?", [7]) is None
    assert first_row(conn, "SELECT n FROM t WHERE n = $n", {"n": 2}) == (2,)
    conn.register("frame", pl.DataFrame({"x": [1]}).to_arrow())  # refused after fetchone
    assert first_row(conn, "SELECT x FROM frame") == (1,)


def test_why_fetchone_is_not_used() -> None:
    # The DuckDB 2.0 behaviour first_row exists for; if an upgrade changes it, this says so.
    conn = duckdb.connect()
    assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(duckdb.Error, match="unfinished result"):
        conn.register("frame", pl.DataFrame({"x": [1]}).to_arrow())
