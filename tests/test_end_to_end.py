"""The whole pipeline on the demo local authority, in process, on a real Dagster instance
configured by the repository's dagster.yaml, a real DuckDB file and real outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import dagster as dg
import duckdb
import pytest
from conftest import ImfEnv, point_at


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    from pipelines.generate import generate

    root = tmp_path_factory.mktemp("e2e")
    mp = pytest.MonkeyPatch()
    env = point_at(root, mp, "e2e-test-key-not-secret")
    manifest = generate(env.landing, scale="demo", years=3, seed=7, fault_rate=0.002)

    from pipelines.definitions import build_definitions
    from pipelines.runner import run_all

    defs = build_definitions()
    with dg.DagsterInstance.get() as instance:
        result = run_all(defs, instance, progress=lambda _: None)
        runs = instance.get_runs()
        from pipelines.publish.assets import GROUP_REPORTS_KEY

        group_reports = instance.get_materialized_partitions(GROUP_REPORTS_KEY)
    yield {"env": env, "manifest": manifest, "result": result, "runs": runs,
           "group_reports": group_reports}
    mp.undo()


def test_demo_run_records_its_runs_in_the_instance(demo_run: dict) -> None:
    result = demo_run["result"]
    assert result.years == ["2023/24", "2024/25", "2025/26"]
    assert len(demo_run["runs"]) == 1 + 3 + 1
    assert all(run.is_success for run in demo_run["runs"])


def test_every_row_read_is_loaded_or_quarantined(demo_run: dict) -> None:
    env: ImfEnv = demo_run["env"]
    with duckdb.connect(str(env.warehouse), read_only=True) as conn:
        bad = conn.execute(
            """
            SELECT l.submission_id, l.rows_read, l.rows_loaded, l.rows_quarantined
            FROM audit.submission_log l WHERE l.status = 'loaded'
              AND l.rows_read <> l.rows_loaded + l.rows_quarantined
            """
        ).fetchall()
        loaded = conn.execute(
            "SELECT count(*) FROM audit.submission_log WHERE status = 'loaded'"
        ).fetchone()
        refused = conn.execute(
            "SELECT count(*) FROM audit.submission_log WHERE status = 'refused'"
        ).fetchone()
    assert bad == []
    assert loaded and loaded[0] > 10
    file_faults = {f["kind"] for f in demo_run["manifest"]["faults"] if f["row_number"] is None}
    assert refused and refused[0] >= len(file_faults & {"unreadable_file", "missing_column",
                                                        "wrong_extension", "empty_file"})


def test_demo_publishes_tables_reports_and_audit_bundle(demo_run: dict) -> None:
    env: ImfEnv = demo_run["env"]
    public = env.publish / "public"
    audit = env.publish / "audit"
    assert (public / "index.html").is_file()
    assert list((public / "ees").glob("*.meta.csv"))
    groups = sorted(p.name for p in (public / "groups").iterdir())
    assert groups == ["806-01", "806-02"]
    assert demo_run["group_reports"] == set(groups)
    for group in groups:
        assert (public / "groups" / group / "index.html").is_file()
    assert (audit / "index.html").is_file()


def test_published_cells_are_protected(demo_run: dict) -> None:
    env: ImfEnv = demo_run["env"]
    with duckdb.connect(str(env.warehouse), read_only=True) as conn:
        unprotected = conn.execute(
            """
            SELECT count(*) FROM indicators.published_values p
            JOIN indicators.indicator_values v
              ON p.level = v.level AND p.la_code IS NOT DISTINCT FROM v.la_code
             AND p.group_id IS NOT DISTINCT FROM v.group_id
             AND p.academic_year = v.academic_year AND p.sen_breakdown = v.sen_breakdown
             AND p.indicator_id = v.indicator_id
            WHERE p.value NOT IN ('c', 'z', 'x')
              AND (v.pupils < 10 OR (v.kind = 'person' AND (v.numerator IN (1, 2)
                   OR v.denominator - v.numerator IN (1, 2))))
            """
        ).fetchone()
    assert unprotected == (0,)


def test_manifest_is_json_serialisable(demo_run: dict) -> None:
    json.dumps(demo_run["manifest"])


def _values(env: ImfEnv, sql: str) -> dict[tuple, float]:
    with duckdb.connect(str(env.warehouse), read_only=True) as conn:
        return {tuple(row[:-1]): row[-1] for row in conn.execute(sql).fetchall()}


def test_indicators_show_the_sen_gaps_the_generator_built_in(demo_run: dict) -> None:
    # The generator gives pupils with SEN more absence and more suspensions (its
    # README); the local authority's figures must show that gap in every year.
    gaps = _values(
        demo_run["env"],
        """
        SELECT academic_year, indicator_id, gap_pp FROM indicators.indicator_values
        WHERE level = 'local_authority' AND sen_breakdown = 'All SEN provision'
          AND indicator_id IN ('attendance_percent', 'persistent_absence_percent',
                               'suspended_percent', 'belonging_percent')
        """,
    )
    assert len(gaps) == 3 * 4
    for (_, indicator), gap in gaps.items():
        if indicator in ("attendance_percent", "belonging_percent"):
            assert gap < 0, (indicator, gap)
        else:
            assert gap > 0, (indicator, gap)


def test_the_improving_group_improves_more_than_the_steady_one(demo_run: dict) -> None:
    trajectories = {g: m["trajectory"] for g, m in demo_run["manifest"]["model"]["groups"].items()}
    assert sorted(trajectories.values()) == ["improving", "steady"]
    values = _values(
        demo_run["env"],
        """
        SELECT group_id, academic_year, value FROM indicators.indicator_values
        WHERE level = 'partnership_group' AND sen_breakdown = 'All SEN provision'
          AND indicator_id = 'belonging_percent'
        """,
    )
    rise = {
        group: values[(group, "2025/26")] - values[(group, "2023/24")] for group in trajectories
    }
    improving = next(g for g, t in trajectories.items() if t == "improving")
    steady = next(g for g, t in trajectories.items() if t == "steady")
    # Groups genuinely differ, and the trend the generator made is visible.
    assert rise[improving] > 0
    assert rise[improving] > rise[steady] + 2, rise


def test_a_rerun_of_one_year_models_only_that_year_and_publishes_the_same(
    demo_run: dict,
) -> None:
    # Near the end of this module: it runs the pipeline again on the same warehouse.
    env: ImfEnv = demo_run["env"]
    published = """SELECT * FROM indicators.published_values
                   ORDER BY ALL"""
    before = _rows(env, published)

    from pipelines.definitions import build_definitions
    from pipelines.runner import run_all

    labels: list[str] = []
    with dg.DagsterInstance.get() as instance:
        result = run_all(build_definitions(), instance, years=["2024/25"],
                         progress=lambda line: labels.append(line))
    assert result.years == ["2024/25"]
    assert [label.removeprefix("▶ ") for label in labels] == [
        "ingest: reference data and landing files", "models for 2024/25",
        "indicators, audit and publishing"]
    assert _rows(env, published) == before


def test_the_rerun_copied_every_unchanged_group_folder(demo_run: dict) -> None:
    # After the rerun above: the same values, so every group's folder was copied.
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["published", "public"]))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["groups_reused"].value == metadata["groups"].value == len(
        demo_run["group_reports"])


def test_the_nightly_audit_validates_and_screens_everything_again(demo_run: dict) -> None:
    from pipelines.automation.jobs import NIGHTLY_AUDIT_JOB
    from pipelines.automation.schedules import NIGHTLY_AUDIT_CONFIG
    from pipelines.definitions import build_definitions

    with dg.DagsterInstance.get() as instance:
        result = build_definitions().resolve_job_def(NIGHTLY_AUDIT_JOB).execute_in_process(
            instance=instance, run_config=NIGHTLY_AUDIT_CONFIG)
    assert result.success
    (screener,) = [c for c in result.get_asset_check_evaluations()
                   if c.check_name == "ees_screener"]
    assert screener.passed
    assert screener.metadata["group_folders_screened"].value == len(demo_run["group_reports"])
    assert screener.metadata["group_folders_as_recorded"].value == 0


def _rows(env: ImfEnv, sql: str) -> list[tuple]:
    with duckdb.connect(str(env.warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()
