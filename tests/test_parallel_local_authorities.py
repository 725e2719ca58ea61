"""Local authorities build their shards in parallel under Dagster's multiprocess executor,
and what is published is identical to a serial run (and the shards' union to a
whole-warehouse run of the same models)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from conftest import ImfEnv, point_at

from pipelines.generate import generate
from pipelines.yearly import GRAPH_NAME, PLAN_OP

LAS = ("805", "857")  # Hartlepool and Rutland: two small LAs with partnership groups
YEAR = "2025/26"
KEY = "parallel-test-key-not-secret"


def _environment(root: Path, landing: Path, mp: pytest.MonkeyPatch) -> ImfEnv:
    shutil.copytree(landing, root / "landing")  # copy2: same bytes and mtimes
    return point_at(root, mp, KEY)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from pipelines.automation.jobs import INGEST_JOB, PUBLISH_JOB
    from pipelines.definitions import build_definitions
    from pipelines.runner import RUN_TAGS, run_all, run_year_in_parallel

    root = tmp_path_factory.mktemp("parallel")
    landing = root / "generated"
    for la in LAS:  # one landing area holding both LAs' files (the generator writes one LA)
        generate(root / la, scale="la", la_code=la, years=1, seed=11)
        shutil.copytree(root / la, landing, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("manifest.json"))

    out: dict[str, Any] = {}
    mp = pytest.MonkeyPatch()
    try:
        serial = _environment(root / "serial", landing, mp)
        with dg.DagsterInstance.get() as instance:
            run_all(build_definitions(), instance, progress=lambda _: None)
        out["serial"] = serial

        parallel = _environment(root / "parallel", landing, mp)
        defs = build_definitions()
        with dg.DagsterInstance.get() as instance:
            assert defs.resolve_job_def(INGEST_JOB).execute_in_process(
                instance=instance, tags=RUN_TAGS).success
            result = run_year_in_parallel(instance, YEAR, max_concurrent=2)
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            from pipelines.yearly import LA_SHARDS_KEY

            out["shard_partitions"] = instance.get_materialized_partitions(LA_SHARDS_KEY)
            out["parallel_log"] = [
                (entry.step_key, entry.dagster_event.event_type_value, entry.timestamp,
                 entry.dagster_event.pid)
                for entry in instance.all_logs(result.run_id) if entry.dagster_event]
            out["parallel_messages"] = [
                (entry.step_key, entry.user_message)
                for entry in instance.all_logs(result.run_id) if not entry.dagster_event]
            assert defs.resolve_job_def(PUBLISH_JOB).execute_in_process(
                instance=instance, tags=RUN_TAGS).success
        out["parallel"] = parallel
    finally:
        mp.undo()
    return out


def _shard_steps(log: list[tuple[str | None, str, float, int]]) -> dict[str, dict[str, Any]]:
    steps: dict[str, dict[str, Any]] = {}
    for key, kind, timestamp, pid in log:
        if "build_la_shard[" not in (key or ""):
            continue
        step = steps.setdefault(str(key), {})
        if kind == "STEP_WORKER_STARTING":  # the executor launches the step's process
            step["launched"] = timestamp
        elif kind == "STEP_START":
            step["pid"] = pid
        elif kind == "STEP_SUCCESS":
            step["end"] = timestamp
    return steps


def test_each_local_authority_is_built_in_its_own_process_at_the_same_time(
    runs: dict[str, Any],
) -> None:
    steps = _shard_steps(runs["parallel_log"])
    assert sorted(steps) == sorted(
        f"models_by_local_authority.build_la_shard[la_{la}]" for la in LAS)
    first, second = steps.values()
    # Each shard built is recorded as a (year, LA) partition of the LA shards asset.
    assert runs["shard_partitions"] == {f"{YEAR}|{la}" for la in LAS}
    assert first["pid"] != second["pid"]
    # Both processes were launched before either step finished: the executor ran them side
    # by side. (Their SQL takes under a second here, less than a worker's start-up, so
    # the work itself need not overlap; at national scale it is most of the time.)
    assert max(first["launched"], second["launched"]) < min(first["end"], second["end"])


def test_each_table_built_and_assembled_is_logged_with_its_rows(runs: dict[str, Any]) -> None:
    from pipelines.automation.progress import TableLine
    from pipelines.yearly import yearly_models

    tables = sorted(m.table for m in yearly_models() if not m.is_view)
    told = [(key or "", line) for key, message in runs["parallel_messages"]
            if (line := TableLine.parse(message)) is not None]
    built = {la: {line.table: line.rows for key, line in told
                  if key.endswith(f"build_la_shard[la_{la}]") and line.verb == "built"}
             for la in LAS}
    assembled = {line.table: line.rows for key, line in told
                 if key.endswith("assemble_year") and line.verb == "assembled"}
    assert len(told) == len(tables) * (len(LAS) + 1)  # each table once per step
    assert sorted(assembled) == tables
    assert all(sorted(built[la]) == tables for la in LAS)
    with duckdb.connect(str(runs["parallel"].warehouse), read_only=True) as conn:
        for table in tables:
            # The assembly is the shards' union, and the warehouse holds what it logged.
            assert assembled[table] == sum(built[la][table] for la in LAS), table
            (rows,) = conn.execute(f"SELECT count(*) FROM {table} WHERE academic_year = ?",
                                   [YEAR]).fetchone() or (0,)
            assert assembled[table] == rows, table
    assert sum(assembled.values()) > 0


def _ees_files(publish: Path) -> dict[str, bytes]:
    folder = publish / "public" / "ees"
    files = {p.relative_to(folder).as_posix(): p.read_bytes()
             for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix == ".csv"}
    assert files, f"nothing published under {folder}"
    return files


def test_published_tables_are_identical_to_a_serial_run(runs: dict[str, Any]) -> None:
    serial, parallel = _ees_files(runs["serial"].publish), _ees_files(
        runs["parallel"].publish)
    assert sorted(serial) == sorted(parallel)
    for name, content in serial.items():
        assert parallel[name] == content, name
    with duckdb.connect(str(runs["serial"].warehouse), read_only=True) as conn:
        conn.execute(f"ATTACH '{runs['parallel'].warehouse}' AS p (READ_ONLY)")
        for table in ("indicators.published_values", "indicators.indicator_values",
                      "marts.fct_pupil_years", "marts.fct_respondent_domains"):
            left = conn.execute(f"SELECT count(*) FROM (FROM {table} EXCEPT ALL "
                                f"FROM p.{table})").fetchone()
            right = conn.execute(f"SELECT count(*) FROM (FROM p.{table} EXCEPT ALL "
                                 f"FROM {table})").fetchone()
            assert left == right == (0,), table
        las = conn.execute("SELECT DISTINCT la_code FROM indicators.published_values "
                           "WHERE la_code IS NOT NULL ORDER BY 1").fetchall()
    assert las == [(la,) for la in LAS]


def test_the_shards_add_up_to_a_whole_warehouse_run(runs: dict[str, Any],
                                                    tmp_path: Path) -> None:
    from pipelines.models import run_models
    from pipelines.yearly import yearly_models

    whole = tmp_path / "whole.duckdb"
    shutil.copy(runs["serial"].warehouse, whole)
    models = yearly_models()
    with duckdb.connect(str(whole)) as conn:
        # A view model's rows as assembled are kept first (it reads the tables renamed
        # next); the re-run below redefines the view on the whole-warehouse tables.
        for model in models:
            if model.is_view:
                conn.execute(f"CREATE TABLE {model.layer}.assembled_{model.name} AS "
                             f"FROM {model.table}")
        for model in models:
            if model.is_view:
                conn.execute(f"DROP VIEW {model.table}")
            else:
                conn.execute(f"ALTER TABLE {model.table} RENAME TO assembled_{model.name}")
        run_models(conn, models, [YEAR])
        for model in models:
            schema = model.layer
            # A whole-warehouse run resolves the groups of every school in England for a
            # loaded year; the shards only those of the LAs with data. Compared on those.
            columns = {r[0] for r in conn.execute(f"DESCRIBE {model.table}").fetchall()}
            whole_rows = (f"(FROM {model.table} WHERE la_code IN {LAS})"
                          if "la_code" in columns else model.table)
            for a, b in ((whole_rows, f"{schema}.assembled_{model.name}"),
                         (f"{schema}.assembled_{model.name}", whole_rows)):
                (extra,) = conn.execute(
                    f"SELECT count(*) FROM (FROM {a} EXCEPT ALL FROM {b})").fetchone() or (0,)
                assert extra == 0, f"{model.table}: {extra} rows differ"
            (rows,) = conn.execute(f"SELECT count(*) FROM {model.table}").fetchone() or (0,)
            assert rows > 0 or model.name.startswith("ind_"), model.table


def _mark_one_row_per_la(env: ImfEnv) -> None:
    """Set a value the models never produce (-1 sessions) on one row of each LA's largest
    mart: a run that rebuilds an LA's rows removes its mark; rows kept keep theirs."""
    with duckdb.connect(str(env.warehouse)) as conn:
        for la in LAS:
            conn.execute(
                "UPDATE marts.fct_pupil_years SET sessions_possible = -1 WHERE pupil_id = "
                "(SELECT min(pupil_id) FROM marts.fct_pupil_years WHERE la_code = $la)",
                {"la": la})


def _marked(env: ImfEnv) -> set[str]:
    """The LAs whose marked row is still there (see `_mark_one_row_per_la`)."""
    with duckdb.connect(str(env.warehouse), read_only=True) as conn:
        rows = conn.execute("SELECT DISTINCT la_code FROM marts.fct_pupil_years "
                            "WHERE sessions_possible = -1").fetchall()
    return {str(r[0]) for r in rows}


def _attendance(env: ImfEnv) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(env.warehouse), read_only=True) as conn:
        return conn.execute("FROM indicators.ind_attendance_percent ORDER BY ALL").fetchall()


def _narrowed_year(las: list[str]) -> tuple[bool, dict[str, str | None]]:
    """The yearly run narrowed to `las`, as the landing sensor asks for it: whether it
    succeeded, and each step it ran with its status."""
    from pipelines.automation.jobs import YEARLY_MODELS_JOB
    from pipelines.automation.sensors import yearly_run_config
    from pipelines.definitions import build_definitions

    with dg.DagsterInstance.get() as instance:
        result = build_definitions().resolve_job_def(YEARLY_MODELS_JOB).execute_in_process(
            instance=instance, partition_key=YEAR, run_config=yearly_run_config(las))
        steps = {s.step_key: s.status.value if s.status else None
                 for s in instance.get_run_step_stats(result.run_id)}
    return result.success, steps


def test_one_local_authority_is_rebuilt_alone_and_the_others_rows_kept(
    runs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _copy_of(runs["parallel"], tmp_path / "copy", monkeypatch)
    expected = _attendance(env)
    _mark_one_row_per_la(env)
    success, steps = _narrowed_year(["857"])
    assert success
    # One shard step, for the LA asked for: no other LA is built or read.
    assert set(steps) == {f"{GRAPH_NAME}.{PLAN_OP}", f"{GRAPH_NAME}.build_la_shard[la_857]",
                          f"{GRAPH_NAME}.assemble_year"}
    assert _marked(env) == {"805"}  # 857's rows rebuilt; 805's kept as they were
    attendance = _attendance(env)
    assert attendance == expected and {row[0] for row in attendance} == set(LAS)


def test_a_full_run_narrowed_to_one_local_authority_rebuilds_only_its_rows(
    runs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`run_all(local_authorities=...)`, the benchmark's resubmission path, narrows the
    yearly run as the landing sensor does."""
    from pipelines.definitions import build_definitions
    from pipelines.runner import run_all

    env = _copy_of(runs["serial"], tmp_path / "copy", monkeypatch)
    expected = _attendance(env)
    _mark_one_row_per_la(env)
    with dg.DagsterInstance.get() as instance:
        run_all(build_definitions(), instance, progress=lambda _: None, years=[YEAR],
                local_authorities={YEAR: ["805"]})
    assert _marked(env) == {"857"}
    assert _attendance(env) == expected


def test_a_run_that_rebuilds_no_shard_still_assembles_the_year(
    runs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Narrowed to an LA with no data that year: no shard step runs, the assembly still
    runs and every LA's rows stay as they were."""
    env = _copy_of(runs["parallel"], tmp_path / "copy", monkeypatch)
    expected = _attendance(env)
    _mark_one_row_per_la(env)
    success, steps = _narrowed_year(["999"])
    assert success
    assert steps == {f"{GRAPH_NAME}.{PLAN_OP}": "SUCCESS",
                     f"{GRAPH_NAME}.assemble_year": "SUCCESS"}
    assert _marked(env) == set(LAS)  # nothing rewritten
    after = _attendance(env)
    assert after == expected and {row[0] for row in after} == set(LAS)


def _model_tables(env: ImfEnv) -> dict[str, list[tuple[Any, ...]]]:
    from pipelines.yearly import yearly_models

    with duckdb.connect(str(env.warehouse), read_only=True) as conn:
        return {m.table: conn.execute(f"FROM {m.table} ORDER BY ALL").fetchall()
                for m in yearly_models()}


def _copy_of(env: ImfEnv, root: Path, monkeypatch: pytest.MonkeyPatch) -> ImfEnv:
    shutil.copytree(env.root, root, symlinks=True)
    (root / "dagster_home" / "dagster.yaml").unlink()  # relinked by point_at
    return point_at(root, monkeypatch, KEY)


def test_replacing_one_local_authority_gives_the_whole_year_rebuilt(
    runs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One school's data changes (as a resubmission changes it); the run narrowed to its
    LA leaves every model table exactly as a rebuild of the whole year does."""
    env = _copy_of(runs["serial"], tmp_path / "copy", monkeypatch)
    with duckdb.connect(str(env.warehouse)) as conn:
        first = conn.execute(
            "SELECT min(urn) FROM marts.fct_pupil_years WHERE la_code = '857'").fetchone()
        assert first is not None
        (urn,) = first
        changed = conn.execute("UPDATE raw.outcomes SET suspensions = 3 WHERE urn = ? "
                               "AND suspensions = 0", [urn]).fetchone()
    assert changed and changed[0] > 0
    before = _model_tables(env)
    success, steps = _narrowed_year(["857"])
    assert success and f"{GRAPH_NAME}.build_la_shard[la_857]" in steps
    narrowed = _model_tables(env)
    assert narrowed != before  # the change reached the models
    success, steps = _narrowed_year([])  # the whole year, every LA
    assert success and f"{GRAPH_NAME}.build_la_shard[las_1_of_1]" in steps
    assert _model_tables(env) == narrowed


def test_a_changed_reference_table_rebuilds_the_whole_year(
    runs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the reference tables change (a school may now count in another LA), a run
    narrowed to one LA rebuilds every LA instead of keeping rows computed the old way."""
    env = _copy_of(runs["serial"], tmp_path / "copy", monkeypatch)
    with duckdb.connect(str(env.warehouse)) as conn:
        conn.execute("UPDATE ref.partnership_groups SET group_name = group_name || ' (renamed)' "
                     "WHERE la_code = '805'")
    _mark_one_row_per_la(env)
    success, steps = _narrowed_year(["857"])
    assert success
    assert f"{GRAPH_NAME}.build_la_shard[las_1_of_1]" in steps  # one shard of both LAs
    assert _marked(env) == set()  # 805's rows rebuilt too, although only 857 was asked for
