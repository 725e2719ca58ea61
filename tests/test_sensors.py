"""The automation sensors, evaluated directly against a temporary landing area, warehouse
and Dagster instance: which runs they request, and that they request them only once."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.automation import sensors
from pipelines.automation.jobs import (
    FOLLOW_ON_AFFECTED,
    FOLLOW_ON_ALL,
    INGEST_JOB,
    JOBS,
    PUBLISH_JOB,
    TAG_BATCH,
    TAG_FOLLOW_ON,
    TAG_SUBMISSIONS,
    YEARLY_MODELS_JOB,
)
from pipelines.automation.partitions import ACADEMIC_YEAR, academic_year_partitions
from pipelines.automation.sensors import (
    landing_files_sensor,
    landing_run_key,
    models_then_publish_sensor,
    run_failure_summary,
    yearly_run_config,
)
from pipelines.settings import ImfSettings

YEARS = ["2023/24", "2024/25", "2025/26"]


# ------------------------------------------------------------------------ fixtures


@pytest.fixture
def settings(imf_env: object, monkeypatch: pytest.MonkeyPatch) -> ImfSettings:
    # Files written by a test are complete at once: no need to wait for them to settle.
    monkeypatch.setenv("IMF_LANDING_SETTLE_SECONDS", "0")
    monkeypatch.setattr(sensors, "_LOCK_WAIT_S", 0.2)
    return ImfSettings.from_env()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def _drop(landing: Path, relative: str, text: str) -> str:
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


def _landing(
    settings: ImfSettings, instance: dg.DagsterInstance, cursor: str | None
) -> tuple[list[dg.RunRequest], str | None]:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"settings": settings}
    )
    result = landing_files_sensor(context)
    if isinstance(result, dg.SkipReason):
        return [], cursor
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or []), result.cursor


def _warehouse(path: Path, units: list[tuple[str, str, int, str]],
               log: list[tuple[str, str, str, str, str | None]]) -> None:
    """audit.submission_units (source, id, urn, year) and submission_log rows."""
    conn = duckdb.connect(str(path))
    conn.execute("CREATE SCHEMA audit")
    conn.execute(
        "CREATE TABLE audit.submission_log (submission_id VARCHAR, source VARCHAR, "
        "file_name VARCHAR, status VARCHAR, reason VARCHAR)"
    )
    conn.execute(
        "CREATE TABLE audit.submission_units (source VARCHAR, submission_id VARCHAR, "
        "urn BIGINT, academic_year VARCHAR, term VARCHAR, rows_loaded BIGINT, "
        "is_current BOOLEAN, superseded_by VARCHAR)"
    )
    for unit in units:
        conn.execute(
            "INSERT INTO audit.submission_units VALUES (?, ?, ?, ?, NULL, 10, TRUE, NULL)", unit
        )
    for entry in log:
        conn.execute("INSERT INTO audit.submission_log VALUES (?, ?, ?, ?, ?)", entry)
    # The register and groups, for which LAs' shards a resubmission rebuilds: 100001 and
    # 100002 count in LA 999 (register); 100003 is registered in 777 but belongs to a
    # group of LA 888, and counts there.
    conn.execute("CREATE SCHEMA ref")
    conn.execute("CREATE TABLE ref.schools AS SELECT * FROM (VALUES (100001, '999'), "
                 "(100002, '999'), (100003, '777')) t(urn, la_code)")
    conn.execute("CREATE TABLE ref.urn_current AS SELECT urn, urn AS current_urn "
                 "FROM ref.schools")
    conn.execute("CREATE TABLE ref.partnership_groups AS SELECT 'G8' AS group_id, "
                 "'888' AS la_code")
    conn.execute("CREATE TABLE ref.group_membership AS SELECT 100003 AS urn, "
                 "'G8' AS group_id, '2023/24' AS from_year, NULL::VARCHAR AS to_year")
    conn.close()


# ------------------------------------------------------------------ landing sensor


def test_new_files_request_one_ingest_run_and_only_once(settings, instance, imf_env) -> None:
    a = _drop(imf_env.landing, "spend/trust_a.csv", "urn,amount\n100001,5\n")
    b = _drop(imf_env.landing, "outcomes/school_b.csv", "urn,upn\n100002,X\n")

    requests, cursor = _landing(settings, instance, None)
    assert len(requests) == 1
    (request,) = requests
    assert request.run_key == landing_run_key([b, a]) == landing_run_key([a, b])
    assert request.tags[TAG_SUBMISSIONS] == ",".join(sorted([a, b]))
    assert request.tags[TAG_FOLLOW_ON] == FOLLOW_ON_AFFECTED

    again, cursor2 = _landing(settings, instance, cursor)
    assert again == []
    assert cursor2 == cursor


def test_changed_file_requests_a_new_run_renamed_file_does_not(
    settings, instance, imf_env
) -> None:
    _drop(imf_env.landing, "spend/trust_a.csv", "urn,amount\n100001,5\n")
    _, cursor = _landing(settings, instance, None)

    # Same bytes under another name: the same submission, no new run.
    os.rename(imf_env.landing / "spend/trust_a.csv", imf_env.landing / "spend/renamed.csv")
    requests, cursor = _landing(settings, instance, cursor)
    assert requests == []

    # New content in place: a new submission, one new run for it alone.
    changed = _drop(imf_env.landing, "spend/renamed.csv", "urn,amount\n100001,7\n")
    requests, cursor = _landing(settings, instance, cursor)
    assert [r.run_key for r in requests] == [landing_run_key([changed])]
    assert requests[0].tags[TAG_SUBMISSIONS] == changed
    assert _landing(settings, instance, cursor)[0] == []


def test_refused_and_hidden_files_are_ignored(settings, instance, imf_env) -> None:
    _drop(imf_env.landing, "_refused/spend/bad.csv", "not,a,good,file\n")
    _drop(imf_env.landing, "spend/~$trust_a.xlsx", "office lock file")
    _drop(imf_env.landing, "spend/.DS_Store", "finder")
    requests, cursor = _landing(settings, instance, None)
    assert requests == []
    assert json.loads(cursor or "{}")["files"] == {}


def test_already_ingested_files_start_no_run(settings, instance, imf_env) -> None:
    seen = _drop(imf_env.landing, "spend/old.csv", "urn,amount\n100001,5\n")
    new = _drop(imf_env.landing, "spend/new.csv", "urn,amount\n100001,9\n")
    _warehouse(imf_env.warehouse, [], [(seen, "spend", "old.csv", "loaded", None)])
    requests, _ = _landing(settings, instance, None)
    assert [r.run_key for r in requests] == [landing_run_key([new])]


def test_file_still_being_copied_waits(settings, instance, imf_env, monkeypatch) -> None:
    monkeypatch.setenv("IMF_LANDING_SETTLE_SECONDS", "60")
    sid = _drop(imf_env.landing, "voice/survey.csv", "urn\n100001\n")
    requests, cursor = _landing(settings, instance, None)
    assert requests == []
    past = time.time() - 120
    os.utime(imf_env.landing / "voice/survey.csv", (past, past))
    requests, _ = _landing(settings, instance, cursor)
    assert [r.run_key for r in requests] == [landing_run_key([sid])]


def test_busy_warehouse_defers_without_losing_files(settings, instance, imf_env) -> None:
    sid = _drop(imf_env.landing, "spend/a.csv", "urn,amount\n100001,5\n")
    _warehouse(imf_env.warehouse, [], [])
    # Another process's writer lock (a separate open file description conflicts too).
    fd = os.open(str(imf_env.warehouse) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        requests, cursor = _landing(settings, instance, None)
        assert requests == [] and cursor is None
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    requests, _ = _landing(settings, instance, cursor)
    assert [r.run_key for r in requests] == [landing_run_key([sid])]


# -------------------------------------------------------------- follow-on sensor


def _stand_in_defs(fail_models: bool = False) -> dg.Definitions:
    """The real jobs over stand-in assets with the real groups and partitions."""

    @dg.asset(key=["ref", "reference_tables"], group_name="reference")
    def reference_tables() -> None: ...

    @dg.asset(key=["raw", "spend"], group_name="ingest", deps=[reference_tables])
    def raw_spend() -> None: ...

    @dg.asset(
        key=["marts", "fct_spend_lines"], group_name="marts", deps=[raw_spend],
        partitions_def=academic_year_partitions,
    )
    def fct_spend_lines() -> None:
        if fail_models:
            raise RuntimeError("Binder Error: column amount_gbp not found")

    @dg.asset(key=["indicators", "published_values"], group_name="indicators",
              deps=[fct_spend_lines])
    def published_values() -> None: ...

    return dg.Definitions(
        assets=[reference_tables, raw_spend, fct_spend_lines, published_values],
        jobs=list(JOBS),
        sensors=[models_then_publish_sensor],
    )


def _chain(settings, instance, defs, cursor):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"settings": settings},
        repository_def=defs.get_repository_def(),
    )
    result = models_then_publish_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or []), result.cursor


def _one_school_resubmits(imf_env) -> tuple[str, str]:
    """Three years on file; school 100003 then resubmits its 2024/25 outcomes only."""
    first, resub, refused = "a" * 64, "b" * 64, "c" * 64
    _warehouse(
        imf_env.warehouse,
        units=[("outcomes", first, urn, year) for urn in (100001, 100002, 100003)
               for year in YEARS]
        + [("outcomes", resub, 100003, "2024/25")],
        log=[(first, "outcomes", "all.csv", "loaded", None),
             (resub, "outcomes", "school_100003.csv", "loaded", None),
             (refused, "spend", "broken.csv", "refused", "missing column amount_gbp")],
    )
    return resub, refused


def test_resubmission_rebuilds_only_its_year_then_publishes(settings, instance, imf_env):
    resub, refused = _one_school_resubmits(imf_env)
    instance.add_dynamic_partitions(ACADEMIC_YEAR, YEARS)
    defs = _stand_in_defs()
    requests, cursor = _chain(settings, instance, defs, None)  # starts watching
    assert requests == []

    ingest = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance,
        tags={TAG_FOLLOW_ON: FOLLOW_ON_AFFECTED, TAG_SUBMISSIONS: f"{resub},{refused}"},
    )
    requests, cursor = _chain(settings, instance, defs, cursor)
    assert [(r.job_name, r.partition_key) for r in requests] == [
        (YEARLY_MODELS_JOB, "2024/25")
    ]
    assert requests[0].run_key == f"{ingest.run_id}:2024/25"
    assert requests[0].tags[TAG_BATCH] == ingest.run_id
    # Only the shard of the LA school 100003 counts in (its group's) is rebuilt.
    assert requests[0].run_config == yearly_run_config(["888"])

    # Nothing more until the yearly run has succeeded: publish never runs first.
    assert _chain(settings, instance, defs, cursor)[0] == []
    defs.resolve_job_def(YEARLY_MODELS_JOB).execute_in_process(
        instance=instance, partition_key="2024/25", tags={TAG_BATCH: ingest.run_id}
    )
    requests, cursor = _chain(settings, instance, defs, cursor)
    assert [(r.job_name, r.run_key) for r in requests] == [
        (PUBLISH_JOB, f"{ingest.run_id}:publish")
    ]
    assert _chain(settings, instance, defs, cursor)[0] == []


def test_termly_ingest_rebuilds_every_year(settings, instance, imf_env):
    _one_school_resubmits(imf_env)
    instance.add_dynamic_partitions(ACADEMIC_YEAR, YEARS)
    defs = _stand_in_defs()
    _, cursor = _chain(settings, instance, defs, None)
    defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance, tags={TAG_FOLLOW_ON: FOLLOW_ON_ALL}
    )
    requests, _ = _chain(settings, instance, defs, cursor)
    assert sorted(r.partition_key for r in requests) == YEARS
    assert {r.job_name for r in requests} == {YEARLY_MODELS_JOB}


def test_cli_full_runs_are_not_chained_again(settings, instance, imf_env):
    _one_school_resubmits(imf_env)
    defs = _stand_in_defs()
    _, cursor = _chain(settings, instance, defs, None)
    # `imf run` executes in process with no tags and chains its own steps.
    defs.resolve_job_def(INGEST_JOB).execute_in_process(instance=instance)
    assert _chain(settings, instance, defs, cursor)[0] == []


def test_failed_yearly_run_blocks_publishing(settings, instance, imf_env):
    resub, _ = _one_school_resubmits(imf_env)
    instance.add_dynamic_partitions(ACADEMIC_YEAR, YEARS)
    defs = _stand_in_defs()
    _, cursor = _chain(settings, instance, defs, None)
    ingest = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance, tags={TAG_FOLLOW_ON: FOLLOW_ON_AFFECTED, TAG_SUBMISSIONS: resub}
    )
    _, cursor = _chain(settings, instance, defs, cursor)
    # A failed run for the year (recorded directly: the real job would retry with delays).
    instance.add_run(
        dg.DagsterRun(
            job_name=YEARLY_MODELS_JOB, status=dg.DagsterRunStatus.FAILURE,
            tags={TAG_BATCH: ingest.run_id, "dagster/partition": "2024/25"},
        )
    )
    requests, cursor = _chain(settings, instance, defs, cursor)
    assert requests == []
    assert json.loads(cursor or "{}")["pending"] == {}


# ---------------------------------------------------------------- failure sensor


def test_failed_run_writes_a_summary_analysts_can_act_on(settings, instance, imf_env):
    # A job without the retry policy, so the failure is immediate.
    defs = _stand_in_defs(fail_models=True)
    failing = dg.define_asset_job(YEARLY_MODELS_JOB, selection=dg.AssetSelection.groups("marts"))
    instance.add_dynamic_partitions(ACADEMIC_YEAR, ["2024/25"])
    job = dg.Definitions(assets=defs.assets, jobs=[failing]).resolve_job_def(YEARLY_MODELS_JOB)
    result = job.execute_in_process(instance=instance, partition_key="2024/25",
                                    raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_summary",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources={"settings": settings},
    ).for_run_failure()
    run_failure_summary(context)

    (summary,) = (imf_env.publish / "run-failures").glob("*.md")
    assert summary.name.endswith(f"_yearly_models_{result.run_id[:8]}.md")
    text = summary.read_text()
    assert "# Run failed: yearly_models (2024/25)" in text
    assert "marts__fct_spend_lines" in text
    assert "RuntimeError: Binder Error: column amount_gbp not found" in text
    assert "Error occurred while executing op" not in text
    assert "## What to do next" in text and "Re-execute from failure" in text
    assert not list((imf_env.publish / "run-failures").glob(".tmp-*"))
    shutil.rmtree(imf_env.publish)


def test_a_publish_run_already_queued_is_not_repeated(settings, instance, imf_env):
    resub, _ = _one_school_resubmits(imf_env)
    instance.add_dynamic_partitions(ACADEMIC_YEAR, YEARS)
    defs = _stand_in_defs()
    _, cursor = _chain(settings, instance, defs, None)
    ingest = defs.resolve_job_def(INGEST_JOB).execute_in_process(
        instance=instance, tags={TAG_FOLLOW_ON: FOLLOW_ON_AFFECTED, TAG_SUBMISSIONS: resub}
    )
    _, cursor = _chain(settings, instance, defs, cursor)
    defs.resolve_job_def(YEARLY_MODELS_JOB).execute_in_process(
        instance=instance, partition_key="2024/25", tags={TAG_BATCH: ingest.run_id}
    )
    # Another batch's publish is still waiting in the queue: it will read this year too.
    instance.add_run(
        dg.DagsterRun(job_name=PUBLISH_JOB, status=dg.DagsterRunStatus.NOT_STARTED)
    )
    requests, cursor = _chain(settings, instance, defs, cursor)
    assert requests == []
    assert json.loads(cursor or "{}")["pending"] == {}
