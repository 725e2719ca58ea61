"""A model whose header says `-- materialized: view` is kept as a view, not stored: not
in the LA shards, and a view (of every year) in the warehouse after the assembly.

Three survey answers, by hand: school 1 (LA 100) answered 4 and 5, school 2 (LA 200)
answered 1. The view model flips them (6 - answer: 2, 1, 5) and the mart adds them up
per school: school 1 → 3, school 2 → 5.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.models import ModelError, load_models, ordered, run_model
from pipelines.shards import TableDone, assemble, build_shard, shard_tables

YEAR = "2025/26"
MODELS = {
    "staging/stg_answers.sql":
        "SELECT urn, academic_year, response FROM raw.voice",
    "intermediate/int_answers_flipped.sql":
        "-- description: each answer flipped\n-- materialized: view\n"
        "SELECT *, 6 - response AS flipped FROM staging.stg_answers",
    "marts/fct_school_totals.sql":
        "SELECT urn, academic_year, sum(flipped) AS total "
        "FROM intermediate.int_answers_flipped GROUP BY ALL",
}
TOTALS = [(1, YEAR, 3), (2, YEAR, 5)]


def _models(root: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(sql)
    return root


def _warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as conn:
        conn.execute("""
            CREATE SCHEMA raw; CREATE SCHEMA ref;
            CREATE TABLE raw.voice AS SELECT * FROM (VALUES
                (1, '2025/26', 4), (1, '2025/26', 5), (2, '2025/26', 1))
                AS t(urn, academic_year, response);
            CREATE TABLE ref.urn_current AS SELECT * FROM (VALUES (1, 1), (2, 2))
                AS t(urn, current_urn);
            CREATE TABLE ref.schools AS SELECT * FROM (VALUES (1, '100'), (2, '200'))
                AS t(urn, la_code);
            CREATE TABLE ref.group_membership (urn BIGINT, group_id VARCHAR,
                from_year VARCHAR, to_year VARCHAR);
            CREATE TABLE ref.partnership_groups (group_id VARCHAR, la_code VARCHAR);
        """)
    return path


def _table_type(conn: duckdb.DuckDBPyConnection, table: str) -> str | None:
    schema, name = table.split(".")
    row = conn.execute("SELECT table_type FROM information_schema.tables WHERE "
                       "table_catalog = current_database() AND table_schema = ? AND "
                       "table_name = ?", [schema, name]).fetchall()
    return row[0][0] if row else None


def _build_and_assemble(models_dir: Path, warehouse: Path) -> list[Path]:
    models = ordered(load_models(models_dir))
    assert [m.materialized for m in models] == ["table", "view", "table"]
    paths = [build_shard(warehouse, models, YEAR, [la]).path for la in ("100", "200")]
    with duckdb.connect(str(warehouse)) as conn:
        rows = assemble(conn, models, YEAR, paths)
    assert rows == {"staging.stg_answers": 3, "marts.fct_school_totals": 2}
    return paths


def test_a_view_model_is_not_stored_in_shards_and_is_a_view_in_the_warehouse(
        tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path / "warehouse.duckdb")
    paths = _build_and_assemble(_models(tmp_path / "models", MODELS), warehouse)
    for path in paths:
        assert shard_tables(path) >= {"staging.stg_answers", "marts.fct_school_totals"}
        assert "intermediate.int_answers_flipped" not in shard_tables(path)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert _table_type(conn, "intermediate.int_answers_flipped") == "VIEW"
        assert _table_type(conn, "marts.fct_school_totals") == "BASE TABLE"
        assert conn.execute("FROM marts.fct_school_totals ORDER BY urn").fetchall() == TOTALS
        assert conn.execute("SELECT urn, flipped FROM intermediate.int_answers_flipped "
                            "ORDER BY ALL").fetchall() == [(1, 1), (1, 2), (2, 5)]


def test_each_table_built_and_assembled_is_told_with_its_rows(tmp_path: Path) -> None:
    """School 1 (LA 100) has 2 answers and 1 total, school 2 (LA 200) 1 and 1; the view
    is not a table, so it is never told."""
    warehouse = _warehouse(tmp_path / "warehouse.duckdb")
    models = ordered(load_models(_models(tmp_path / "models", MODELS)))
    told: list[tuple[str, str, int]] = []

    def teller(la: str) -> TableDone:
        return lambda table, rows, _seconds: told.append((la, table, rows))

    paths = [build_shard(warehouse, models, YEAR, [la], on_table=teller(la)).path
             for la in ("100", "200")]
    with duckdb.connect(str(warehouse)) as conn:
        assemble(conn, models, YEAR, paths,
                 on_table=lambda table, rows, s: told.append(("all", table, rows)))
    assert told == [("100", "staging.stg_answers", 2), ("100", "marts.fct_school_totals", 1),
                    ("200", "staging.stg_answers", 1), ("200", "marts.fct_school_totals", 1),
                    ("all", "staging.stg_answers", 3), ("all", "marts.fct_school_totals", 2)]


def test_a_warehouse_that_stored_the_model_as_a_table_gets_the_view(tmp_path: Path) -> None:
    """A warehouse from before the model became a view holds it as a (stale) table."""
    warehouse = _warehouse(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("CREATE SCHEMA intermediate; CREATE TABLE intermediate.int_answers_flipped"
                     " AS SELECT 9 AS urn, '2025/26' AS academic_year, 0 AS flipped")
    _build_and_assemble(_models(tmp_path / "models", MODELS), warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert _table_type(conn, "intermediate.int_answers_flipped") == "VIEW"
        assert conn.execute("SELECT count(*) FROM intermediate.int_answers_flipped "
                            "WHERE urn = 9").fetchall() == [(0,)]
        assert conn.execute("FROM marts.fct_school_totals ORDER BY urn").fetchall() == TOTALS


def test_run_model_defines_the_view_and_counts_the_year(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path / "warehouse.duckdb")
    models = ordered(load_models(_models(tmp_path / "models", MODELS)))
    with duckdb.connect(str(warehouse)) as conn:
        counts = [run_model(conn, model, YEAR) for model in models]
        assert counts == [3, 3, 2]
        assert _table_type(conn, "intermediate.int_answers_flipped") == "VIEW"
        assert run_model(conn, models[1], "2024/25") == 0


def test_an_unknown_materialization_is_refused_naming_the_file(tmp_path: Path) -> None:
    files = {**MODELS, "intermediate/int_answers_flipped.sql":
             "-- materialized: ephemeral\nSELECT * FROM staging.stg_answers"}
    with pytest.raises(ModelError, match=r"int_answers_flipped\.sql: `materialized: "
                                         r"ephemeral` is not one of table, view"):
        load_models(_models(tmp_path / "models", files))
