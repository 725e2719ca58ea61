"""Supersession ranked again only for the schools a new submission covers.

Ingest calls `update_current(conn, source, submission_ids)` after each transaction, with
the one file or the several small files it wrote. That must leave exactly what ranking
every unit from scratch leaves, whatever order submissions arrive in and however they
are grouped, however their modification times tie and whichever units they share.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.ingest.supersession import update_current
from pipelines.ingest.tables import AUDIT_TABLES

T0 = datetime(2026, 10, 1)
UNITS = st.sets(st.tuples(st.sampled_from([100001, 100002, 100003]),
                          st.sampled_from(["2024/25", "2025/26"]),
                          st.sampled_from([None, "autumn", "spring"])),
                min_size=1, max_size=5)
SUBMISSION = st.tuples(UNITS, st.integers(0, 3), st.sampled_from(["a.csv", "b.csv", "c.csv"]))


def _warehouse() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA audit")
    for name in ("submission_log", "submission_units"):
        conn.execute(f"CREATE TABLE audit.{name} ({AUDIT_TABLES[name]})")
    return conn


def _load(conn: duckdb.DuckDBPyConnection, source: str, submission_id: str,
          units: set[tuple[int, str, str | None]], minutes: int, name: str) -> None:
    conn.execute("INSERT INTO audit.submission_log (submission_id, source, file_name, "
                 "file_mtime, status) VALUES (?, ?, ?, ?, 'loaded')",
                 [submission_id, source, name, T0 + timedelta(minutes=minutes)])
    conn.executemany("INSERT INTO audit.submission_units VALUES (?, ?, ?, ?, ?, 1, FALSE, NULL)",
                     [(source, submission_id, *unit) for unit in sorted(units, key=str)])


def _state(conn: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT source, submission_id, urn, academic_year, term, is_current, "
                        "superseded_by FROM audit.submission_units ORDER BY ALL").fetchall()


def test_a_later_file_supersedes_only_the_units_it_covers() -> None:
    """By hand: s2 (later) covers one of s1's two units; s3 is another school's."""
    conn = _warehouse()
    _load(conn, "outcomes", "s1", {(100001, "2025/26", None), (100001, "2024/25", None)}, 0,
          "a.csv")
    update_current(conn, "outcomes", ["s1"])
    _load(conn, "outcomes", "s2", {(100001, "2025/26", None)}, 5, "a.csv")
    update_current(conn, "outcomes", ["s2"])
    _load(conn, "outcomes", "s3", {(100002, "2025/26", None)}, 1, "b.csv")
    update_current(conn, "outcomes", ["s3"])
    assert _state(conn) == [
        ("outcomes", "s1", 100001, "2024/25", None, True, None),
        ("outcomes", "s1", 100001, "2025/26", None, False, "s2"),
        ("outcomes", "s2", 100001, "2025/26", None, True, None),
        ("outcomes", "s3", 100002, "2025/26", None, True, None),
    ]


def test_submissions_ranked_together_by_hand() -> None:
    """s1 and s2 in one transaction share a unit (s2 is later); s3, in it too, is a school
    of its own; s4, later and alone, supersedes s2."""
    conn = _warehouse()
    _load(conn, "outcomes", "s1", {(100001, "2025/26", None)}, 0, "a.csv")
    _load(conn, "outcomes", "s2", {(100001, "2025/26", None), (100001, "2024/25", None)}, 5,
          "b.csv")
    _load(conn, "outcomes", "s3", {(100002, "2025/26", None)}, 1, "c.csv")
    update_current(conn, "outcomes", ["s1", "s2", "s3"])
    _load(conn, "outcomes", "s4", {(100001, "2024/25", None)}, 9, "d.csv")
    update_current(conn, "outcomes", ["s4"])
    assert _state(conn) == [
        ("outcomes", "s1", 100001, "2025/26", None, False, "s2"),
        ("outcomes", "s2", 100001, "2024/25", None, False, "s4"),
        ("outcomes", "s2", 100001, "2025/26", None, True, None),
        ("outcomes", "s3", 100002, "2025/26", None, True, None),
        ("outcomes", "s4", 100001, "2024/25", None, True, None),
    ]


@settings(max_examples=120, deadline=None)
@given(submissions=st.lists(st.tuples(st.sampled_from(["spend", "outcomes"]), SUBMISSION,
                                      st.booleans()),
                            min_size=1, max_size=8))
def test_ranking_the_submissions_schools_equals_ranking_everything(
    submissions: list[tuple[str, tuple[set[tuple[int, str, str | None]], int, str], bool]],
) -> None:
    """Each submission either joins the transaction before it (same source) or starts
    its own; after each transaction, the narrowed ranking equals ranking everything."""
    narrowed, everything = _warehouse(), _warehouse()
    together: list[str] = []

    def commit(source: str) -> None:
        update_current(narrowed, source, together)
        update_current(everything, source)
        together.clear()

    source_before = None
    for i, (source, (units, minutes, name), joins) in enumerate(submissions):
        if together and not (joins and source == source_before):
            commit(source_before)  # type: ignore[arg-type]
            assert _state(narrowed) == _state(everything)
        for conn in (narrowed, everything):
            _load(conn, source, f"s{i}", units, minutes, name)
        together.append(f"s{i}")
        source_before = source
    commit(source_before)  # type: ignore[arg-type]
    assert _state(narrowed) == _state(everything)
    # And the full ranking is right: one current submission per unit, the latest.
    current = everything.execute(
        "SELECT source, urn, academic_year, term, count(*) FILTER (WHERE is_current) "
        "FROM audit.submission_units GROUP BY ALL").fetchall()
    assert all(row[-1] == 1 for row in current)
