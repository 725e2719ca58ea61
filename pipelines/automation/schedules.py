"""Schedules: the termly publication and the nightly audit.

Both start switched off: publishing on a timetable is a decision the local authority
takes (turn them on in the UI: Automation → the schedule → toggle). Cron strings come from
environment variables read when the code location loads, in UK time (Europe/London, so
the clock change does not move them); several crons can be given separated by `;`.

The termly run is an `ingest` run tagged to rebuild every year: when it succeeds the
`models_then_publish` sensor runs `yearly_models` for every academic year and then
`publish`, the same chain as a file landing, so there is one way through the pipeline.
"""

from __future__ import annotations

import os

import dagster as dg
from dagster._utils.schedules import is_valid_cron_string

from pipelines.automation.jobs import (
    FOLLOW_ON_ALL,
    TAG_FOLLOW_ON,
    ingest_job,
    nightly_audit_job,
)

TIMEZONE = "Europe/London"
# Early in the second half of each term: 10 November (autumn half-term ends late
# October), 10 March (spring half-term mid-February), 10 June (summer half-term late May),
# at 06:00, so the run is done before the working day and after the half-term's returns.
DEFAULT_TERMLY_CRON = "0 6 10 3,6,11 *"
# 02:30 exists exactly once every night in UK time, including both clock-change nights.
DEFAULT_AUDIT_CRON = "30 2 * * *"
# Nothing carried forward at night: every GX suite validated, every published folder screened.
NIGHTLY_AUDIT_CONFIG = {"ops": {
    "audit__gx_validation": {"config": {"revalidate_unchanged": True}},
    "published__public_ees_screener": {"config": {"rescreen_all": True}},
}}


class ScheduleConfigError(ValueError):
    """An IMF_*_CRON variable that is not a cron string (names the variable)."""


def cron_from_env(name: str, default: str) -> list[str]:
    """The cron string(s) in an environment variable (';'-separated), else the default."""
    raw = os.environ.get(name, "").strip() or default
    crons = [part.strip() for part in raw.split(";") if part.strip()]
    bad = [c for c in crons if not is_valid_cron_string(c)]
    if bad or not crons:
        raise ScheduleConfigError(
            f"{name}={raw!r} is not a cron string like {default!r} "
            "(minute hour day-of-month month day-of-week; several separated by ';')."
        )
    return crons


def _one_or_many(crons: list[str]) -> str | list[str]:
    return crons[0] if len(crons) == 1 else crons


def build_schedules() -> list[dg.ScheduleDefinition]:
    termly_cron = cron_from_env("IMF_TERMLY_CRON", DEFAULT_TERMLY_CRON)
    audit_cron = cron_from_env("IMF_AUDIT_CRON", DEFAULT_AUDIT_CRON)

    @dg.schedule(
        name="termly_publication",
        job=ingest_job,
        cron_schedule=_one_or_many(termly_cron),
        execution_timezone=TIMEZONE,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="The full pipeline each term: ingest everything that has landed, "
        "rebuild every academic year, then publish (the `models_then_publish` sensor runs "
        f"the last two). Cron {' ; '.join(termly_cron)} ({TIMEZONE}), from IMF_TERMLY_CRON.",
    )
    def termly_publication(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        when = context.scheduled_execution_time
        stamp = when.isoformat() if when is not None else "manual"
        return dg.RunRequest(
            run_key=f"termly-{stamp}",
            tags={TAG_FOLLOW_ON: FOLLOW_ON_ALL, "imf/trigger": "termly_publication"},
        )

    @dg.schedule(
        name="nightly_audit",
        job=nightly_audit_job,
        cron_schedule=_one_or_many(audit_cron),
        execution_timezone=TIMEZONE,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Every night: re-run the audit assets and every Great Expectations "
        "check (none carried forward) on the warehouse as it stands, and screen every "
        "published file again, so a problem shows the next morning. "
        f"Cron {' ; '.join(audit_cron)} ({TIMEZONE}), from IMF_AUDIT_CRON.",
    )
    def nightly_audit(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        when = context.scheduled_execution_time
        stamp = when.isoformat() if when is not None else "manual"
        return dg.RunRequest(
            run_key=f"audit-{stamp}", tags={"imf/trigger": "nightly_audit"},
            # Runs after a publication carry forward the results of suites whose rules and
            # rows are unchanged; once a night every suite is evaluated again regardless.
            run_config=NIGHTLY_AUDIT_CONFIG)

    return [termly_publication, nightly_audit]
