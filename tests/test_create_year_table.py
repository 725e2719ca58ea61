"""A new shard's tables are made in one statement, with the same rows and column types as
`replace_year` gives a table that does not exist yet."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.models import ModelError, create_year_table, replace_year

MODEL = Path("models/test/t.sql")
SELECT = ("SELECT urn, academic_year, value, value * 1.5 AS scaled, "
          "CAST(value AS VARCHAR) AS label FROM src")
YEARS = ("2023/24", "2024/25")
rows = st.lists(st.tuples(st.integers(1, 5) | st.none(), st.sampled_from(YEARS),
                          st.integers(-3, 3) | st.none()), max_size=12)


def _source(source_rows: list[tuple[int | None, str, int | None]]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("CREATE TABLE src(urn BIGINT, academic_year VARCHAR, value SMALLINT)")
    if source_rows:
        conn.executemany("INSERT INTO src VALUES (?, ?, ?)", source_rows)
    return conn


def test_one_year_of_a_small_source() -> None:
    conn = _source([(1, "2024/25", 2), (1, "2023/24", 9), (None, "2024/25", None)])
    assert create_year_table(conn, "staging.t", SELECT, "2024-25", MODEL) == 2
    assert conn.execute("FROM staging.t ORDER BY ALL").fetchall() == [
        (1, "2024/25", 2, 3.0, "2"), (None, "2024/25", None, None, None)]


@settings(max_examples=40, deadline=None)
@given(source_rows=rows, year=st.sampled_from(YEARS))
def test_same_rows_and_types_as_replace_year(
    source_rows: list[tuple[int | None, str, int | None]], year: str,
) -> None:
    conn = _source(source_rows)
    made = create_year_table(conn, "staging.made", SELECT, year, MODEL)
    replaced = replace_year(conn, "staging.replaced", SELECT, year, MODEL)
    assert made == replaced == sum(r[1] == year for r in source_rows)
    assert conn.execute("DESCRIBE staging.made").fetchall() == \
        conn.execute("DESCRIBE staging.replaced").fetchall()
    assert conn.execute("FROM staging.made ORDER BY ALL").fetchall() == \
        conn.execute("FROM staging.replaced ORDER BY ALL").fetchall()


def test_a_model_without_academic_year_is_refused_by_name() -> None:
    conn = _source([(1, "2024/25", 2)])
    refused = re.escape(f"{MODEL}: a partitioned model must output academic_year")
    with pytest.raises(ModelError, match=refused):
        create_year_table(conn, "staging.t", "SELECT urn, value FROM src", "2024/25", MODEL)
    with pytest.raises(duckdb.BinderException, match="no_such_column"):  # other errors as they are
        create_year_table(conn, "staging.t", "SELECT no_such_column, academic_year FROM src",
                          "2024/25", MODEL)
