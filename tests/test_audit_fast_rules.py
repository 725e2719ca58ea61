"""Two audit rules have faster forms than their plain SQL (pipelines/audit/suite_specs.py):
they must find exactly the rows the plain forms find, NULLs and empty ids included."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.audit.suite_specs import SAME_ROWS_AS_STAGED, rows, unique

IDS = st.sampled_from(["s1", "s2", "", None])
PAIRS = st.lists(st.tuples(IDS, st.integers(1, 3) | st.none()), max_size=10)
BATCH = "(SELECT * FROM batch) AS subselect"  # what GX puts in place of {batch}


def _query(rule: dict[str, object]) -> str:
    kwargs = rule["kwargs"]
    assert isinstance(kwargs, dict)
    return str(kwargs["unexpected_rows_query"]).replace("{batch}", BATCH)


def _tables(batch: Sequence[tuple[str | None, int | None]],
            staged: Sequence[tuple[str | None, int | None]]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA staging")
    for table, content in (("batch", batch), ("staging.stg_outcomes__pupil_years", staged)):
        conn.execute(f"CREATE TABLE {table}(submission_id VARCHAR, row_number INTEGER)")
        if content:
            conn.executemany(f"INSERT INTO {table} VALUES (?, ?)", content)
    return conn


@settings(max_examples=150, deadline=None)
@given(batch=PAIRS)
def test_repeated_keys_found_in_two_passes_are_those_a_plain_group_by_finds(
        batch: list[tuple[str | None, int | None]]) -> None:
    conn = _tables(batch, [])
    fast = conn.execute(_query(unique(["submission_id", "row_number"], "why"))).fetchall()
    plain = conn.execute("SELECT submission_id, row_number, count(*) FROM batch "
                         "GROUP BY ALL HAVING count(*) > 1").fetchall()
    assert Counter(fast) == Counter(plain)


@settings(max_examples=300, deadline=None)
@given(batch=PAIRS, staged=PAIRS)
def test_mart_and_staging_differences_are_those_except_all_finds(
        batch: list[tuple[str | None, int | None]],
        staged: list[tuple[str | None, int | None]]) -> None:
    conn = _tables(batch, staged)
    fast = conn.execute(_query(rows("why", SAME_ROWS_AS_STAGED))).fetchall()
    plain = conn.execute(
        "(SELECT 'in mart, not staged', * FROM (FROM batch EXCEPT ALL "
        "FROM staging.stg_outcomes__pupil_years)) UNION ALL "
        "(SELECT 'staged, not in mart', * FROM (FROM staging.stg_outcomes__pupil_years "
        "EXCEPT ALL FROM batch))").fetchall()
    assert Counter(fast) == Counter(plain)


def test_a_lost_and_a_doubled_row_are_each_reported_once() -> None:
    staged = [("s1", 1), ("s1", 2), ("s2", 1)]
    conn = _tables([("s1", 1), ("s1", 1), ("s2", 1)], staged)  # s1's row 2 lost, row 1 doubled
    assert sorted(conn.execute(_query(rows("why", SAME_ROWS_AS_STAGED))).fetchall()) == [
        ("in mart, not staged", "s1", 1), ("staged, not in mart", "s1", 2)]
