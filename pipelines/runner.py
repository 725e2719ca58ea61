"""A full run: ingest, then every academic year's models, then publish.

Used by `imf run` and the end-to-end tests. Each step is a Dagster run in the instance
given (the same one the UI shows), executed in this process so a run needs no daemon.
The runs are tagged so the landing sensor's follow-on does not chain them a second time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pipelines.automation.failures import FailedRun, step_failures, write_failure_summary
from pipelines.automation.jobs import (
    FOLLOW_ON_NONE,
    INGEST_JOB,
    PUBLISH_JOB,
    TAG_FOLLOW_ON,
    YEARLY_MODELS_JOB,
)
from pipelines.automation.partitions import ACADEMIC_YEAR
from pipelines.automation.progress import progress_run_config
from pipelines.automation.sensors import yearly_run_config

# Dagster's console log quietened; slow steps still reported (automation/progress.py).
QUIET_LOGS = progress_run_config()
RUN_TAGS = {TAG_FOLLOW_ON: FOLLOW_ON_NONE, "imf/trigger": "imf run"}


class RunFailed(RuntimeError):
    """A step of the full run failed; the message names the step and the Dagster run."""

    def __init__(self, message: str, summary: Path | None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class FullRunResult:
    run_ids: dict[str, str] = field(default_factory=dict)
    years: list[str] = field(default_factory=list)


def run_all(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    progress: Callable[[str], None] = print,
    quiet: bool = True,
    failure_dir: Path | None = None,
    years: Sequence[str] | None = None,
    local_authorities: Mapping[str, Sequence[str]] | None = None,
) -> FullRunResult:
    """Run every stage; on failure write a summary under `failure_dir` and raise RunFailed.

    `years` are the academic years whose models are rebuilt; by default every year with
    data (after ingest has registered any new one). `local_authorities` narrows a year to
    the LAs whose rows are rebuilt, the others' kept, as the landing sensor narrows a
    resubmission's run (`{"2025/26": ["886"]}`); a year not in it rebuilds every LA.
    """
    result = FullRunResult()
    run_config = QUIET_LOGS if quiet else None

    def execute(job_name: str, label: str, partition_key: str | None = None,
                only: Sequence[str] = ()) -> None:
        job = defs.resolve_job_def(job_name)
        progress(f"▶ {label}")
        config = ({**(run_config or {}), **yearly_run_config(only)} if only
                  else run_config)
        outcome = job.execute_in_process(
            instance=instance,
            partition_key=partition_key,
            raise_on_error=False,
            run_config=config,
            tags=RUN_TAGS,
        )
        result.run_ids[label] = outcome.run_id
        if outcome.success:
            return
        failed = FailedRun(
            run_id=outcome.run_id,
            job=job_name,
            partition=partition_key,
            failed_at=datetime.now(UTC),
            steps=step_failures(outcome.all_events),
        )
        summary = write_failure_summary(failed, failure_dir) if failure_dir else None
        lines = [f"{step.step}: {step.error.strip()}" for step in failed.steps]
        raise RunFailed(
            f"{label} failed (Dagster run {outcome.run_id}).\n  " + "\n  ".join(lines),
            summary,
        )

    execute(INGEST_JOB, "ingest: reference data and landing files")
    result.years = sorted(instance.get_dynamic_partitions(ACADEMIC_YEAR)
                          if years is None else years)
    for year in result.years:
        execute(YEARLY_MODELS_JOB, f"models for {year}", partition_key=year,
                only=(local_authorities or {}).get(year, ()))
    execute(PUBLISH_JOB, "indicators, audit and publishing")
    return result


def yearly_models_job() -> dg.JobDefinition:
    """The yearly job, rebuilt in each worker process: the multiprocess executor's target
    (`dg.reconstructable(yearly_models_job)`) when local authorities build in parallel."""
    from pipelines.definitions import build_definitions

    return build_definitions().resolve_job_def(YEARLY_MODELS_JOB)


def run_year_in_parallel(
    instance: dg.DagsterInstance, academic_year: str, max_concurrent: int = 2,
    tags: dict[str, str] | None = None,
) -> dg.ExecutionResult:
    """One year's models, the LAs split into `max_concurrent` shards, each in its own process.

    Not for use while this process holds the warehouse writer lock (as `imf run` does):
    the assembly step, in another process, must take it.
    """
    return dg.execute_job(
        dg.reconstructable(yearly_models_job),
        instance=instance,
        run_config=yearly_run_config(parallel_shards=max_concurrent),
        tags={**RUN_TAGS, **(tags or {}), "dagster/partition": academic_year},
        raise_on_error=False,
    )
