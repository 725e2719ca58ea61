"""Assembling a year rewrites only the schools whose rows changed, and the table ends up
exactly as replacing the whole year would leave it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.models import replace_changed_schools, replace_year

MODEL = Path("models/test/t.sql")
Row = tuple[int | None, str, int | None]
ORDER = "SELECT * FROM t ORDER BY ALL"


def _tables(old: Sequence[Row], new: Sequence[Row]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t(urn BIGINT, academic_year VARCHAR, value INTEGER)")
    conn.execute("CREATE TABLE src(urn BIGINT, academic_year VARCHAR, value INTEGER)")
    if old:
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", old)
    if new:
        conn.executemany("INSERT INTO src VALUES (?, ?, ?)", new)
    return conn


def test_only_changed_schools_are_rewritten() -> None:
    old = [(1, "2024/25", 10), (1, "2024/25", 11),  # school 1: one value changes
           (2, "2024/25", 20),                      # school 2: unchanged
           (3, "2024/25", 30),                      # school 3: gone
           (3, "2023/24", 99),                      # another year: never touched
           (None, "2024/25", 5)]                    # no URN: unchanged
    new = [(1, "2024/25", 10), (1, "2024/25", 12),
           (2, "2024/25", 20),
           (4, "2024/25", 40),                      # school 4: new
           (None, "2024/25", 5)]
    conn = _tables(old, new)
    # A row that is not rewritten keeps its rowid; deleted and inserted rows do not.
    kept = ("SELECT rowid, * FROM t WHERE urn IS NULL OR urn = 2 OR academic_year = '2023/24' "
            "ORDER BY ALL")
    before = conn.execute(kept).fetchall()
    rows, changed = replace_changed_schools(conn, "main.t", "SELECT * FROM src", "2024/25",
                                            MODEL)
    assert (rows, changed) == (5, 3)  # schools 1, 3 and 4
    assert conn.execute(ORDER).fetchall() == [
        (1, "2024/25", 10), (1, "2024/25", 12), (2, "2024/25", 20), (3, "2023/24", 99),
        (4, "2024/25", 40), (None, "2024/25", 5)]
    assert conn.execute(kept).fetchall() == before


def test_new_table_and_table_without_urn_replace_the_whole_year() -> None:
    conn = _tables([], [(1, "2024/25", 1)])
    assert replace_changed_schools(conn, "main.fresh", "SELECT * FROM src", "2024/25",
                                   MODEL) == (1, -1)
    conn.execute("CREATE TABLE nourn AS SELECT academic_year, value FROM src")
    assert replace_changed_schools(conn, "main.nourn", "SELECT academic_year, 2 AS value "
                                   "FROM src", "2024/25", MODEL) == (1, -1)
    assert conn.execute("SELECT value FROM nourn").fetchall() == [(2,)]


_ROWS = st.lists(st.tuples(st.sampled_from([1, 2, 3, None]),
                           st.sampled_from(["2023/24", "2024/25"]),
                           st.one_of(st.none(), st.integers(0, 3))), max_size=10)


@settings(max_examples=80, deadline=None)
@given(_ROWS, _ROWS)
def test_same_table_as_replacing_the_whole_year(old: list[Row], new: list[Row]) -> None:
    expected = _tables(old, new)
    replace_year(expected, "main.t", "SELECT * FROM src", "2024/25", MODEL)
    actual = _tables(old, new)
    _, changed = replace_changed_schools(actual, "main.t", "SELECT * FROM src", "2024/25",
                                         MODEL)
    assert actual.execute(ORDER).fetchall() == expected.execute(ORDER).fetchall()
    schools_differing = {
        urn for urn in {r[0] for r in old + new if r[1] == "2024/25"}
        if sorted((r for r in old if r[0] == urn and r[1] == "2024/25"), key=repr)
        != sorted((r for r in new if r[0] == urn and r[1] == "2024/25"), key=repr)}
    assert changed == len(schools_differing)


def test_within_replaces_only_those_rows_and_keeps_the_rest() -> None:
    """Some LAs' schools (1 and 3 here) replaced by their new rows; school 2, outside
    them, is kept although the new rows do not hold it."""
    old = [(1, "2024/25", 10),   # in scope: changes
           (2, "2024/25", 20),   # outside: kept
           (3, "2024/25", 30)]   # in scope: gone from the new rows
    new = [(1, "2024/25", 11),
           (4, "2024/25", 40)]   # in scope: new (the new rows' schools are in scope)
    conn = _tables(old, new)
    kept = "SELECT rowid, * FROM t WHERE urn = 2"
    before = conn.execute(kept).fetchall()
    rows, changed = replace_changed_schools(conn, "main.t", "SELECT * FROM src", "2024/25",
                                            MODEL, within="urn IN (1, 3, 4)")
    assert (rows, changed) == (3, 3)
    assert conn.execute(ORDER).fetchall() == [
        (1, "2024/25", 11), (2, "2024/25", 20), (4, "2024/25", 40)]
    assert conn.execute(kept).fetchall() == before
    # Without a urn the rows cannot be told apart: refused rather than the year replaced.
    conn.execute("CREATE TABLE nourn AS SELECT academic_year, value FROM src")
    try:
        replace_changed_schools(conn, "main.nourn", "SELECT academic_year, value FROM src",
                                "2024/25", MODEL, within="TRUE")
    except ValueError as error:
        assert "urn" in str(error)
    else:
        raise AssertionError("replaced a table without urn within some rows")
