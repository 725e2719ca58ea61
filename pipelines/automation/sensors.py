"""Sensors: start runs when files land, chain the jobs, and explain failures.

How they chain (each step is a separate Dagster run, queued one at a time):

1. `landing_files` sees new content in the landing area and requests one `ingest` run.
   Its run key is derived from the sorted submission ids, so the same bytes never start
   two runs, however often the sensor looks or the file is renamed or touched.
2. `models_then_publish`, once that ingest run has succeeded, requests a `yearly_models`
   run for each academic year its submissions touch (from audit.submission_units) and,
   only when every one of those has succeeded, one `publish` run. It waits for the
   yearly runs itself rather than trusting queue order: a failed or retried yearly run
   must not be followed by publishing half-updated tables.
3. `run_failure_summary` writes a plain-language summary of any failed run next to the
   published outputs, and into the UI's tick log.

Sensors that read the warehouse take its writer lock for the moment they read, because a
DuckDB file open for reading in one process cannot be opened for writing in another: a
sensor must never make a run's step fail. While a run is writing they wait for a later
tick, without moving their cursor, so nothing is missed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.automation.failures import FailedRun, step_failures, write_failure_summary
from pipelines.automation.jobs import (
    FOLLOW_ON_AFFECTED,
    FOLLOW_ON_ALL,
    FOLLOW_ON_NONE,
    IN_PROCESS,
    INGEST_JOB,
    TAG_BATCH,
    TAG_FOLLOW_ON,
    TAG_SUBMISSIONS,
    ingest_job,
    multiprocess_execution,
    publish_job,
    yearly_models_job,
)
from pipelines.automation.landing import is_settling, landing_files, submission_id
from pipelines.automation.partitions import ACADEMIC_YEAR, academic_year_partitions
from pipelines.models import normalise_year
from pipelines.resources.warehouse import WarehouseBusy, table_exists, writer_lock
from pipelines.settings import ImfSettings
from pipelines.shards import local_authorities_of
from pipelines.yearly import GRAPH_NAME, PLAN_OP

SENSOR_INTERVAL_S = 30
# Above this many submissions in one run the tag would be unwieldy in the UI, and so many
# files touch every year anyway: the follow-on then rebuilds all years.
MAX_TAGGED_SUBMISSIONS = 40
# A run that has not finished after this long will not be waited for by the chain.
PENDING_BATCH_TTL_S = 7 * 24 * 3600
_LOCK_WAIT_S = 5.0


def _settle_seconds() -> float:
    # A file copied over a slow network share keeps growing for a while; its hash is only
    # trusted once it has been still for this long.
    return float(os.environ.get("IMF_LANDING_SETTLE_SECONDS", "10"))


# --------------------------------------------------------------------------- warehouse


@contextmanager
def read_warehouse(path: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection, or None when there is no warehouse yet.

    Raises WarehouseBusy when a run is writing (see the module docstring).
    """
    if not path.exists():
        yield None
        return
    with writer_lock(path, timeout_s=_LOCK_WAIT_S):
        conn = duckdb.connect(str(path), read_only=True)
        try:
            yield conn
        finally:
            conn.close()




def _for_submissions(
    conn: duckdb.DuckDBPyConnection | None,
    table: str,
    columns: str,
    ids: Iterable[str],
    where: str = "TRUE",
    order_by: str = "1",
) -> list[tuple[object, ...]]:
    """`SELECT DISTINCT columns FROM audit.<table>` for these submission ids (constant
    SQL fragments only). Nothing is read when there is no warehouse yet, no ids, or the
    table has not been created by a first ingest."""
    wanted = sorted(set(ids))
    if conn is None or not wanted or not table_exists(conn, "audit", table):
        return []
    return conn.execute(
        f"SELECT DISTINCT {columns} FROM audit.{table} "
        f"WHERE submission_id IN (SELECT unnest($ids)) AND {where} ORDER BY {order_by}",
        {"ids": wanted},
    ).fetchall()


def logged_submissions(conn: duckdb.DuckDBPyConnection | None, ids: Iterable[str]) -> set[str]:
    """Which of these submission ids the submission log already holds."""
    return {str(r[0]) for r in _for_submissions(conn, "submission_log", "submission_id", ids)}


def affected_units(conn: duckdb.DuckDBPyConnection | None,
                   ids: Iterable[str]) -> list[tuple[int, str]]:
    """The (urn, academic_year) units these submissions cover (data contract's unit)."""
    rows = _for_submissions(conn, "submission_units", "urn, academic_year", ids,
                            where="academic_year IS NOT NULL AND urn IS NOT NULL")
    return [(int(str(r[0])), str(r[1])) for r in rows]


def affected_years(units: Iterable[tuple[int, str]]) -> list[str]:
    """The academic years of these units, in order."""
    return sorted({year for _, year in units})


def yearly_run_config(local_authorities: Sequence[str] = (),
                      parallel_shards: int = 1) -> dict[str, object]:
    """Run config for a yearly run: rebuild only these LAs' rows (every other LA's kept;
    none given: every LA), the LAs split into `parallel_shards` shards built at once in
    separate processes (1: one shard, in the run's process)."""
    plan: dict[str, object] = {"shards": max(1, parallel_shards)}
    if local_authorities:
        plan["local_authorities"] = sorted(local_authorities)
    config: dict[str, object] = {
        "ops": {GRAPH_NAME: {"ops": {PLAN_OP: {"config": plan}}}}}
    # Always explicit: a request's run config replaces the job's default, it is not merged.
    config["execution"] = (multiprocess_execution(parallel_shards) if parallel_shards > 1
                           else IN_PROCESS["execution"])
    return config


def refusals(conn: duckdb.DuckDBPyConnection | None, ids: Iterable[str]) -> list[str]:
    """'<file>: <reason>' for each of these submissions that ingest refused."""
    rows = _for_submissions(
        conn, "submission_log", "source, file_name, reason", ids,
        where="status = 'refused'", order_by="source, file_name",
    )
    return [f"{r[0]}/{r[1]}: {r[2]}" for r in rows]


# --------------------------------------------------------------------- landing sensor


def landing_run_key(ids: Iterable[str]) -> str:
    """One key per set of submissions: the same content never starts a second run."""
    joined = "\n".join(sorted(set(ids)))
    return "landing-" + hashlib.sha256(joined.encode()).hexdigest()[:32]


def _describe(files: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(files[:limit])
    return shown + (f" (+{len(files) - limit} more)" if len(files) > limit else "")


@dg.sensor(
    name="landing_files",
    job=ingest_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts an `ingest` run when a new or changed file (by content) lands in "
    "IMF_LANDING_DIR/<source>/. Files in `_refused/` are ignored; the same bytes never "
    "start a second run. After ingest, `models_then_publish` takes over.",
)
def landing_files_sensor(
    context: dg.SensorEvaluationContext, settings: ImfSettings
) -> dg.SensorResult | dg.SkipReason:
    # Cursor: {"files": {relative path: [size, mtime_ns, submission id]}} for the files
    # seen last time, so unchanged files are not hashed again every 30 seconds.
    previous: dict[str, list] = json.loads(context.cursor)["files"] if context.cursor else {}
    known = {entry[2] for entry in previous.values()}
    now = time.time()
    current: dict[str, list] = {}
    settling: list[str] = []
    for file in landing_files(settings.landing_path):
        if is_settling(file, _settle_seconds(), now):
            settling.append(file.relative)
            continue
        before = previous.get(file.relative)
        if before and before[0] == file.size and before[1] == file.mtime_ns:
            sid = str(before[2])
        else:
            try:
                sid = submission_id(file)
            except OSError:  # taken away (or swapped for a link) since it was listed
                continue
        current[file.relative] = [file.size, file.mtime_ns, sid]

    new: dict[str, list[str]] = {}
    for relative, (_, _, sid) in current.items():
        if sid not in known:
            new.setdefault(sid, []).append(relative)
    if new:
        try:
            with read_warehouse(settings.warehouse_path) as conn:
                already = logged_submissions(conn, new)
        except (WarehouseBusy, duckdb.IOException):
            # Cursor unchanged: the same files are looked at again next tick.
            return dg.SkipReason("A run is writing the warehouse; will look again shortly.")
        for sid in already:
            context.log.info(f"Already ingested, not starting a run: {', '.join(new[sid])}")
            del new[sid]

    cursor = json.dumps({"files": current}, sort_keys=True)
    waiting = f" Waiting for {_describe(settling)} to finish copying." if settling else ""
    if not new:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"No new landing files.{waiting}"), cursor=cursor
        )

    ids = sorted(new)
    files = sorted(f for names in new.values() for f in names)
    tags = {"imf/landing_files": _describe(files), TAG_FOLLOW_ON: FOLLOW_ON_AFFECTED}
    if len(ids) <= MAX_TAGGED_SUBMISSIONS:
        tags[TAG_SUBMISSIONS] = ",".join(ids)
    else:
        tags[TAG_FOLLOW_ON] = FOLLOW_ON_ALL
    context.log.info(f"New landing files ({len(files)}): {_describe(files, 20)}.{waiting}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=landing_run_key(ids), tags=tags)], cursor=cursor
    )


# ------------------------------------------------------------------ follow-on sensor


@dataclass
class _ChainCursor:
    after: int  # storage id of the last ingest success event handled
    pending: dict[str, dict]  # ingest run id -> {"years": [...], "since": epoch seconds}

    @classmethod
    def load(cls, raw: str | None) -> _ChainCursor | None:
        if not raw:
            return None
        data = json.loads(raw)
        return cls(after=int(data["after"]), pending=dict(data.get("pending", {})))

    def dump(self) -> str:
        return json.dumps({"after": self.after, "pending": self.pending}, sort_keys=True)


def _partition_key(year: str, existing: Sequence[str]) -> str:
    """The partition key for a warehouse year ('2025/26'), in the form ingest registered."""
    for key in (year, year.replace("/", "-")):
        if key in existing:
            return key
    if existing and all("-" in key and "/" not in key for key in existing):
        return year.replace("/", "-")
    return year


def _follow_on(run: dg.DagsterRun) -> str:
    explicit = run.tags.get(TAG_FOLLOW_ON)
    if explicit:
        return explicit
    # Runs executed in-process (`imf run`, tests) chain their own steps; only runs the
    # daemon launched (sensor, schedule, the UI's launchpad) are followed by default.
    if run.remote_job_origin is None:
        return FOLLOW_ON_NONE
    # Launched from the UI without a landing sensor's submission list: rebuild everything.
    return FOLLOW_ON_ALL


def _batch_state(
    instance: dg.DagsterInstance, batch: str, years: Sequence[str]
) -> tuple[str, str]:
    """('done' | 'failed' | 'waiting', detail) for the yearly runs of one ingest run.

    A year counts by its latest run, so a failure followed by a successful retry (run
    retries copy the batch tag) or a manual re-execution counts as success.
    """
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=yearly_models_job.name, tags={TAG_BATCH: batch})
    )
    latest: dict[str, dg.DagsterRun] = {}
    for run in runs:  # newest first
        latest.setdefault(run.tags.get("dagster/partition", ""), run)
    failed = []
    for year in years:
        last = latest.get(year)
        if last is None or not last.is_finished:
            return "waiting", f"models for {year} not finished"
        if last.status != dg.DagsterRunStatus.SUCCESS:
            if last.tags.get("dagster/will_retry") == "true":
                return "waiting", f"models for {year} will be retried"
            failed.append(f"{year} (run {last.run_id})")
    if failed:
        return "failed", "models failed for " + ", ".join(failed)
    return "done", ""


def _publish_waiting(instance: dg.DagsterInstance) -> str | None:
    """The id of a publish run that is queued but has not started, if there is one.

    Publishing reads the warehouse when it starts, so a run still waiting in the queue
    will include whatever a later batch modelled: a second one would only repeat it.
    """
    waiting = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=publish_job.name,
            statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED],
        ),
        limit=1,
    )
    return waiting[0].run_id if waiting else None


@dg.sensor(
    name="models_then_publish",
    jobs=[yearly_models_job, publish_job],
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After an `ingest` run succeeds: a `yearly_models` run for each academic "
    "year its new submissions affect (all years after the termly run), then one `publish` "
    "run once all of those have succeeded. Logs refused files with their reasons.",
)
def models_then_publish_sensor(
    context: dg.SensorEvaluationContext, settings: ImfSettings
) -> dg.SensorResult | dg.SkipReason:
    instance = context.instance
    state = _ChainCursor.load(context.cursor)
    if state is None:
        # Start from now, as Dagster's run status sensors do: turning the sensor on must
        # not replay the chain for every ingest run in the instance's history.
        latest = instance.fetch_run_status_changes(
            dg.DagsterEventType.RUN_SUCCESS, limit=1
        ).records
        state = _ChainCursor(after=latest[0].storage_id if latest else -1, pending={})
        return dg.SensorResult(
            skip_reason=dg.SkipReason("Started: watching for successful ingest runs."),
            cursor=state.dump(),
        )

    requests: list[dg.RunRequest] = []
    publishing: list[str] = []  # ingest run ids whose follow-on is ready to publish
    new_years: set[str] = set()
    messages: list[str] = []
    years_known = list(instance.get_dynamic_partitions(ACADEMIC_YEAR))

    # 1. Successful ingest runs since the cursor: request their years.
    records = instance.fetch_run_status_changes(
        dg.RunStatusChangeRecordsFilter(
            event_type=dg.DagsterEventType.RUN_SUCCESS, after_storage_id=state.after
        ),
        limit=50,
        ascending=True,
    ).records
    for record in records:
        run = instance.get_run_by_id(record.event_log_entry.run_id)
        if run is None or run.job_name != INGEST_JOB or _follow_on(run) == FOLLOW_ON_NONE:
            state.after = record.storage_id
            continue
        mode = _follow_on(run)
        ids = [s for s in run.tags.get(TAG_SUBMISSIONS, "").split(",") if s]
        scoped: dict[str, list[str]] = {}  # year -> the only LAs to rebuild
        if mode == FOLLOW_ON_AFFECTED and ids:
            try:
                with read_warehouse(settings.warehouse_path) as conn:
                    units = affected_units(conn, ids)
                    refused = refusals(conn, ids)
                years = affected_years(units)
                scoped = local_authorities_of(settings.warehouse_path, units, _LOCK_WAIT_S)
            except duckdb.CatalogException as error:  # no register loaded: rebuild every LA
                context.log.warning(f"Rebuilding every LA: {error}")
            except (WarehouseBusy, duckdb.IOException):
                messages.append("A run is writing the warehouse; will look again shortly.")
                break  # cursor stays before this run: it is handled next tick
            for line in refused:
                context.log.warning(f"Refused (run {run.run_id}): {line}")
        else:
            # The termly run, or an ingest launched by hand: every year there is.
            years = sorted(instance.get_dynamic_partitions(ACADEMIC_YEAR))
        keys = [_partition_key(year, years_known) for year in years]
        new_years.update(k for k in keys if k not in years_known)
        batch_tags = {TAG_BATCH: run.run_id}
        for year, key in zip(years, keys, strict=True):
            las = scoped.get(normalise_year(year), [])
            requests.append(
                dg.RunRequest(
                    job_name=yearly_models_job.name,
                    partition_key=key,
                    run_key=f"{run.run_id}:{key}",
                    tags=batch_tags,
                    # A resubmission rebuilds only its LAs' rows; the rest are kept.
                    run_config=yearly_run_config(las, settings.parallel_shards),
                )
            )
        if keys:
            state.pending[run.run_id] = {"years": keys, "since": time.time()}
            scope = "; ".join(f"{y}: LA {', '.join(las)}" for y, las in sorted(scoped.items()))
            messages.append(f"ingest {run.run_id[:8]}: models for {', '.join(keys)}"
                            + (f" (shards rebuilt only for {scope})" if scope else ""))
        else:
            # Nothing for the models to do (e.g. every file was refused); publish anyway so
            # the audit bundle's submission log shows what was received and why refused.
            publishing.append(run.run_id)
            messages.append(f"ingest {run.run_id[:8]}: no years affected")
        state.after = record.storage_id

    # 2. Batches whose yearly runs have all succeeded: publish once per batch.
    for batch, info in sorted(state.pending.items()):
        status, detail = _batch_state(instance, batch, info["years"])
        if status == "done":
            publishing.append(batch)
            messages.append(f"ingest {batch[:8]}: all years modelled")
            del state.pending[batch]
        elif status == "failed":
            context.log.error(
                f"Not publishing after ingest run {batch}: {detail}. See the run failure "
                "summary; after fixing, re-execute the failed run(s) or run `imf run`."
            )
            del state.pending[batch]
        elif time.time() - float(info.get("since", 0)) > PENDING_BATCH_TTL_S:
            context.log.warning(f"Gave up waiting for ingest run {batch}'s models: {detail}.")
            del state.pending[batch]

    # 3. One publish run for the batches ready now, unless one is already waiting.
    if publishing:
        queued = _publish_waiting(instance)
        if queued:
            messages.append(f"publish run {queued[:8]} is already queued and will include it")
        else:
            last = publishing[-1]
            requests.append(
                dg.RunRequest(
                    job_name=publish_job.name,
                    run_key=f"{last}:publish",
                    tags={TAG_BATCH: last, "imf/batches": ",".join(publishing)},
                )
            )
            messages.append("publishing")

    for message in messages:
        context.log.info(message)
    dynamic = (
        [academic_year_partitions.build_add_request(sorted(new_years))] if new_years else []
    )
    if not requests:
        reason = "; ".join(messages) or (
            f"Waiting for models of {len(state.pending)} ingest run(s)."
            if state.pending
            else "No successful ingest runs to follow."
        )
        return dg.SensorResult(
            skip_reason=dg.SkipReason(reason),
            cursor=state.dump(),
            dynamic_partitions_requests=dynamic,
        )
    return dg.SensorResult(
        run_requests=requests, cursor=state.dump(), dynamic_partitions_requests=dynamic
    )


# ------------------------------------------------------------------- failure sensor


def failed_run_from_context(context: dg.RunFailureSensorContext) -> FailedRun:
    steps = step_failures(context.get_step_failure_events())
    run = context.dagster_run
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record is not None else None
    return FailedRun(
        run_id=run.run_id,
        job=run.job_name,
        partition=run.tags.get("dagster/partition"),
        failed_at=datetime.fromtimestamp(ended, tz=UTC) if ended else datetime.now(UTC),
        steps=steps,
        run_error=context.failure_event.message or "",
        will_retry=run.tags.get("dagster/will_retry") == "true",
    )


@dg.run_failure_sensor(
    name="run_failure_summary",
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Writes a plain-language summary of every failed run (which step, the "
    "error, what to do next) to IMF_PUBLISH_DIR/run-failures/ and to this sensor's log.",
)
def run_failure_summary(context: dg.RunFailureSensorContext, settings: ImfSettings) -> None:
    failed = failed_run_from_context(context)
    path = write_failure_summary(failed, settings.publish_path)
    steps = ", ".join(s.step for s in failed.steps) or "the run itself"
    context.log.error(f"Run {failed.run_id} ({failed.job}) failed at {steps}. Summary: {path}")


SENSORS: tuple[dg.SensorDefinition, ...] = (
    landing_files_sensor,
    models_then_publish_sensor,
    run_failure_summary,
)

__all__ = [
    "SENSORS",
    "affected_units",
    "affected_years",
    "landing_files_sensor",
    "landing_run_key",
    "models_then_publish_sensor",
    "run_failure_summary",
]

