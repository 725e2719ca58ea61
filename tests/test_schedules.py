"""The termly publication and nightly audit schedules: what they request, and when."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from conftest import ImfEnv
from dagster._utils.schedules import cron_string_iterator

from pipelines.automation.jobs import (
    FOLLOW_ON_ALL,
    INGEST_JOB,
    JOBS,
    NIGHTLY_AUDIT_JOB,
    TAG_FOLLOW_ON,
)
from pipelines.automation.schedules import (
    DEFAULT_AUDIT_CRON,
    DEFAULT_TERMLY_CRON,
    TIMEZONE,
    ScheduleConfigError,
    build_schedules,
)

LONDON = ZoneInfo(TIMEZONE)


def _schedules() -> dict[str, dg.ScheduleDefinition]:
    return {s.name: s for s in build_schedules()}


def _evaluate(schedule: dg.ScheduleDefinition, when: datetime) -> list[dg.RunRequest]:
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
        result = schedule.evaluate_tick(context)
    return list(result.run_requests or [])


def test_defaults_are_documented_uk_times(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMF_TERMLY_CRON", raising=False)
    monkeypatch.delenv("IMF_AUDIT_CRON", raising=False)
    schedules = _schedules()
    termly, audit = schedules["termly_publication"], schedules["nightly_audit"]
    assert termly.cron_schedule == DEFAULT_TERMLY_CRON == "0 6 10 3,6,11 *"
    assert audit.cron_schedule == DEFAULT_AUDIT_CRON == "30 2 * * *"
    assert termly.execution_timezone == audit.execution_timezone == "Europe/London"
    assert termly.job_name == INGEST_JOB and audit.job_name == NIGHTLY_AUDIT_JOB
    # Off until the local authority turns them on.
    assert termly.default_status == audit.default_status == dg.DefaultScheduleStatus.STOPPED
    docs = (Path(__file__).parents[1] / "docs" / "analysts.md").read_text()
    for text in (DEFAULT_TERMLY_CRON, DEFAULT_AUDIT_CRON, "IMF_TERMLY_CRON", "IMF_AUDIT_CRON"):
        assert text in docs


def test_termly_run_ingests_then_rebuilds_every_year() -> None:
    when = datetime(2026, 11, 10, 6, 0, tzinfo=LONDON)
    (request,) = _evaluate(_schedules()["termly_publication"], when)
    assert request.tags[TAG_FOLLOW_ON] == FOLLOW_ON_ALL
    assert request.run_key == f"termly-{when.isoformat()}"
    # The next ticks: the second half of the spring, summer and autumn terms, 06:00 UK
    # time on both sides of the clock change.
    ticks = cron_string_iterator(
        datetime(2026, 1, 1, tzinfo=LONDON).timestamp(), DEFAULT_TERMLY_CRON, TIMEZONE
    )
    got = [next(ticks).strftime("%Y-%m-%d %H:%M %Z") for _ in range(4)]
    assert got == ["2026-03-10 06:00 GMT", "2026-06-10 06:00 BST",
                   "2026-11-10 06:00 GMT", "2027-03-10 06:00 GMT"]


def test_nightly_audit_requests_one_audit_run(imf_env: ImfEnv) -> None:  # env for config
    when = datetime(2026, 10, 25, 2, 30, tzinfo=LONDON)  # the night the clocks go back
    (request,) = _evaluate(_schedules()["nightly_audit"], when)
    assert request.run_key == f"audit-{when.isoformat()}"
    assert TAG_FOLLOW_ON not in request.tags
    # Every suite is evaluated and every published folder screened at night, nothing
    # carried forward; the job accepts the config.
    assert request.run_config == {"ops": {
        "audit__gx_validation": {"config": {"revalidate_unchanged": True}},
        "published__public_ees_screener": {"config": {"rescreen_all": True}}}}
    from pipelines.definitions import build_definitions

    with dg.instance_for_test():  # see test_schedules_and_jobs_load_together
        job = build_definitions().resolve_job_def(NIGHTLY_AUDIT_JOB)
        assert dg.validate_run_config(job, request.run_config)


def test_cron_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMF_TERMLY_CRON", "0 7 1 1,4,9 * ; 0 7 15 12 *")
    monkeypatch.setenv("IMF_AUDIT_CRON", "0 3 * * 1-5")
    schedules = _schedules()
    assert schedules["termly_publication"].cron_schedule == ["0 7 1 1,4,9 *", "0 7 15 12 *"]
    assert schedules["nightly_audit"].cron_schedule == "0 3 * * 1-5"


def test_bad_cron_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMF_TERMLY_CRON", "every term")
    with pytest.raises(ScheduleConfigError, match="IMF_TERMLY_CRON"):
        build_schedules()


def test_schedules_and_jobs_load_together() -> None:
    defs = dg.Definitions(schedules=build_schedules(), jobs=list(JOBS))
    # Inside a test instance: instance_for_test leaves Dagster's definitions-state storage
    # pointing at the instance it disposed of, which a later load outside one trips over.
    with dg.instance_for_test():
        repo = defs.get_repository_def()
    assert {s.name for s in repo.schedule_defs} == {"termly_publication", "nightly_audit"}
