"""A full run: ingest, then every academic year's models, then publish.

Used by `imf run` and the end-to-end tests. Each step is a Dagster run in the instance
given (the same one the UI shows), executed in this process so a run needs no daemon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from pipelines.automation.jobs import INGEST_JOB, PUBLISH_JOB, YEARLY_MODELS_JOB
from pipelines.automation.partitions import ACADEMIC_YEAR

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class RunFailed(RuntimeError):
    """A step of the full run failed; the message names the step and the Dagster run."""


@dataclass
class FullRunResult:
    run_ids: dict[str, str] = field(default_factory=dict)
    years: list[str] = field(default_factory=list)


def run_all(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    progress: Callable[[str], None] = print,
    quiet: bool = True,
) -> FullRunResult:
    result = FullRunResult()
    run_config = QUIET_LOGS if quiet else None

    def execute(job_name: str, label: str, partition_key: str | None = None) -> None:
        job = defs.resolve_job_def(job_name)
        progress(f"▶ {label}")
        outcome = job.execute_in_process(
            instance=instance,
            partition_key=partition_key,
            raise_on_error=False,
            run_config=run_config,
        )
        result.run_ids[label] = outcome.run_id
        if not outcome.success:
            failed = [
                f"{event.step_key}: {event.event_specific_data.error.message.strip()}"  # type: ignore[union-attr]
                for event in outcome.all_events
                if event.is_step_failure and event.event_specific_data is not None
            ]
            raise RunFailed(
                f"{label} failed (Dagster run {outcome.run_id}).\n  " + "\n  ".join(failed)
            )

    execute(INGEST_JOB, "ingest: reference data and landing files")
    result.years = sorted(instance.get_dynamic_partitions(ACADEMIC_YEAR))
    for year in result.years:
        execute(YEARLY_MODELS_JOB, f"models for {year}", partition_key=year)
    execute(PUBLISH_JOB, "indicators, audit and publishing")
    return result
