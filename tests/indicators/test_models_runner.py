"""The SQL model runner: discovery, dependencies, partitions, and the real model set."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.catalog import indicator_catalog
from pipelines.models import (
    RAW_KEYS,
    REFERENCE_KEY,
    ModelError,
    load_models,
    normalise_year,
    ordered,
    referenced_tables,
    run_model,
)
from pipelines.settings import MODELS_DIR

# Every indicator of indicators.md, by kind.
PERSON = {
    "belonging_percent", "wellbeing_percent", "safety_percent", "participation_percent",
    "voice_heard_percent", "family_confidence_percent", "persistent_absence_percent",
    "suspended_percent", "permanently_excluded_percent", "unexplained_leaver_percent",
    "base_majority_percent", "plan_reviewed_percent", "early_identified_percent",
    "sustained_destination_percent", "expected_standard_percent",
}  # fmt: skip
WEIGHTED = {"attendance_percent", "mainstream_time_percent", "plan_targets_met_percent"}
SPEND = {
    "spend_per_pupil_gbp", "systemic_spend_percent", "individual_spend_percent",
    "allocation_spent_percent",
}  # fmt: skip
COVERAGE = {"schools_reporting_percent"}


def write(root: Path, relative: str, sql: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sql)


def test_table_names_ignore_comments_and_strings() -> None:
    sql = """
        -- reads marts.not_this
        SELECT 'raw.nor_this' AS s, x.a /* or intermediate.this */
        FROM staging.stg_a AS x JOIN ref.schools USING (urn)
        JOIN "marts".quoted ON TRUE
    """
    assert referenced_tables(sql) == ("staging.stg_a", "ref.schools")


def test_deps_map_python_tables_to_their_assets(tmp_path: Path) -> None:
    write(
        tmp_path,
        "staging/stg_x.sql",
        "SELECT r.* FROM raw.outcomes AS r JOIN audit.submission_units AS u "
        "USING (submission_id) JOIN ref.urn_current AS c USING (urn)",
    )
    write(tmp_path, "marts/fct_x.sql", "SELECT * FROM staging.stg_x")
    stg, fct = load_models(tmp_path)
    assert set(stg.deps) == {*RAW_KEYS, REFERENCE_KEY}
    assert fct.deps == (dg.AssetKey(["staging", "stg_x"]),)
    assert fct.key == dg.AssetKey(["marts", "fct_x"])


def test_unknown_table_is_a_load_error_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path, "marts/fct_typo.sql", "SELECT * FROM staging.stg_outcomes__pupil_yaers")
    with pytest.raises(ModelError, match=r"fct_typo\.sql.*stg_outcomes__pupil_yaers"):
        load_models(tmp_path)


def test_partitioning_follows_layer_and_header(tmp_path: Path) -> None:
    write(tmp_path, "intermediate/int_a.sql", "SELECT 1 AS academic_year")
    write(tmp_path, "intermediate/int_b.sql", "-- partitioned: false\nSELECT 1 AS x")
    write(tmp_path, "indicators/ind_c.sql", "SELECT '2025/26' AS academic_year")
    write(tmp_path, "indicators/summary.sql", "SELECT * FROM indicators.ind_c")
    flags = {m.name: m.partitioned for m in load_models(tmp_path)}
    assert flags == {"int_a": True, "int_b": False, "ind_c": True, "summary": False}


def test_partitioned_models_cannot_read_unpartitioned_ones(tmp_path: Path) -> None:
    write(tmp_path, "intermediate/int_all.sql", "-- partitioned: false\nSELECT 1 AS x")
    write(tmp_path, "marts/fct_y.sql", "SELECT * FROM intermediate.int_all")
    with pytest.raises(ModelError, match=r"fct_y\.sql.*intermediate/int_all"):
        load_models(tmp_path)


def test_a_partition_run_replaces_only_its_year(tmp_path: Path) -> None:
    conn = duckdb.connect(":memory:")
    conn.execute("CREATE SCHEMA raw")
    conn.execute(
        "CREATE TABLE raw.spend AS SELECT * FROM (VALUES "
        "('2024/25', 1), ('2025/26', 2)) AS t(academic_year, amount)"
    )
    write(
        tmp_path,
        "staging/stg_s.sql",
        "-- description: test\nSELECT academic_year, amount FROM raw.spend;\n-- trailing",
    )
    (model,) = load_models(tmp_path)
    assert run_model(conn, model, "2024/25") == 1
    assert run_model(conn, model, "2025-26") == 1  # either spelling of the key
    conn.execute("UPDATE raw.spend SET amount = amount * 10")
    conn.execute("INSERT INTO raw.spend VALUES ('2025/26', 3)")
    assert run_model(conn, model, "2025/26") == 2
    assert conn.execute("SELECT * FROM staging.stg_s ORDER BY ALL").fetchall() == [
        ("2024/25", 1),
        ("2025/26", 3),
        ("2025/26", 20),
    ]
    # A changed SELECT recreates the table (other years then need re-running).
    write(
        tmp_path,
        "staging/stg_s.sql",
        "SELECT academic_year, amount, amount * 2 AS doubled FROM raw.spend",
    )
    (model,) = load_models(tmp_path)
    assert run_model(conn, model, "2025/26") == 2
    assert conn.execute("SELECT count(*), max(doubled) FROM staging.stg_s").fetchone() == (2, 40)
    with pytest.raises(ValueError, match="academic year"):
        run_model(conn, model, None)


def test_partition_keys_must_be_academic_years() -> None:
    assert normalise_year("2025/26") == "2025/26"
    for bad in ("2025/27", "2025", "25/26", "1999/01"):
        with pytest.raises(ValueError):
            normalise_year(bad)


def test_unpartitioned_models_replace_the_table(tmp_path: Path) -> None:
    conn = duckdb.connect(":memory:")
    write(tmp_path, "indicators/things.sql", "SELECT 42 AS answer")
    (model,) = load_models(tmp_path)
    assert run_model(conn, model) == 1
    assert run_model(conn, model) == 1
    with pytest.raises(ValueError, match="not partitioned"):
        run_model(conn, model, "2025/26")


# --- the real models ---------------------------------------------------------------


def test_every_indicator_is_defined_once_with_its_words() -> None:
    catalog = {m.id: m for m in indicator_catalog(MODELS_DIR)}
    assert set(catalog) == PERSON | WEIGHTED | SPEND | COVERAGE
    for meta in catalog.values():
        assert meta.path.name == f"ind_{meta.id}.sql"
        assert meta.kind == (
            "person"
            if meta.id in PERSON
            else "weighted"
            if meta.id in WEIGHTED
            else "spend"
            if meta.id in SPEND
            else "coverage"
        )
        for text in (meta.title, meta.measures, meta.why, meta.read, meta.extra["source"]):
            assert len(text) > 10 or text == meta.title, (meta.id, text)


def test_indicator_values_unions_every_outcome_indicator_with_its_kind() -> None:
    sql = (MODELS_DIR / "indicators" / "indicator_values.sql").read_text()
    listed = dict(re.findall(r"SELECT '(\w+)' AS indicator_id, '(\w+)' AS kind", sql))
    expected = {i: "person" for i in PERSON} | {i: "weighted" for i in WEIGHTED}
    assert listed == expected
    for indicator_id in listed:
        assert f"FROM indicators.ind_{indicator_id}\n" in sql


def test_real_models_load_in_dependency_order() -> None:
    models = ordered(load_models())
    position = {m.key: i for i, m in enumerate(models)}
    for model in models:
        for dep in model.deps:
            if dep in position:
                assert position[dep] < position[model.key], (model.key, dep)
    names = {m.table for m in models}
    assert {
        "marts.dim_school_years", "marts.fct_pupil_years", "marts.fct_respondent_domains",
        "marts.fct_spend_lines", "marts.fct_allocations", "indicators.indicator_values",
        "indicators.spend_context", "indicators.coverage",
    } <= names  # fmt: skip
    belonging = next(m for m in models if m.name == "ind_belonging_percent")
    assert "How to read it: Higher is better" in belonging.description
    assert "FROM marts.fct_respondent_domains" in belonging.description
