"""The jobs a full run is made of, in the order the data flows, plus the nightly audit.

A full run cannot be one Dagster run: the ingest assets are unpartitioned (they take
whatever files have landed), the models are partitioned by academic year, and the
published outputs span every year. So: `ingest` once, `yearly_models` once per academic
year, then `publish` once. The sensors in sensors.py chain them.

The jobs are module-level objects (not built from the asset list) so that sensors and
schedules can target the very same objects the code location registers; their selections
resolve against the whole asset graph when the Definitions are built.
"""

from __future__ import annotations

from typing import AbstractSet  # noqa: UP035 - the signature AssetSelection declares

import dagster as dg
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph

from pipelines.automation.partitions import ACADEMIC_YEAR
from pipelines.publish.assets import PUBLIC_KEY

INGEST_JOB = "ingest"
YEARLY_MODELS_JOB = "yearly_models"
PUBLISH_JOB = "publish"
NIGHTLY_AUDIT_JOB = "nightly_audit"

# Run tags the automation reads and writes (visible and filterable in the UI's run list).
TAG_SUBMISSIONS = "imf/submissions"  # comma-separated submission ids a landing run is for
TAG_FOLLOW_ON = "imf/follow_on"  # what follows a successful ingest: see FOLLOW_ON_*
TAG_BATCH = "imf/batch"  # the ingest run id a yearly/publish run follows on from
FOLLOW_ON_AFFECTED = "affected_years"  # years of the run's submissions, then publish
FOLLOW_ON_ALL = "all_years"  # every academic year, then publish (termly schedule)
FOLLOW_ON_NONE = "none"  # nothing (the CLI's full run chains its steps itself)

# Transient failures (a busy disk, a file lock held a moment too long, an out-of-memory
# kill of one step) usually pass on a second attempt; a real data or SQL error fails all
# three attempts, costing ~30 s. Run-level retries (dagster.yaml) only cover crashed run
# workers, so one step's failure is never retried twice over.
STEP_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class _PartitionedBy(dg.AssetSelection):
    """The assets partitioned by one named dynamic partitions definition.

    Resolved against the full asset graph, so the yearly job needs no asset list up front
    and picks up every year-partitioned model as the modelling stage adds them.
    """

    def __init__(self, partitions_name: str) -> None:
        self.partitions_name = partitions_name

    def resolve_inner(
        self, asset_graph: BaseAssetGraph, allow_missing: bool
    ) -> AbstractSet[dg.AssetKey]:
        return {
            node.key
            for node in asset_graph.asset_nodes
            if node.is_materializable
            and isinstance(node.partitions_def, dg.DynamicPartitionsDefinition)
            and node.partitions_def.name == self.partitions_name
        }

    def to_selection_str(self) -> str:
        # Only shown in the UI; not parsed back.
        return f'partitioned_by:"{self.partitions_name}"'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PartitionedBy) and other.partitions_name == self.partitions_name

    def __hash__(self) -> int:
        return hash(("_PartitionedBy", self.partitions_name))


INGEST_SELECTION = dg.AssetSelection.groups("reference", "ingest")
YEARLY_SELECTION: dg.AssetSelection = _PartitionedBy(ACADEMIC_YEAR)
PUBLISH_SELECTION = dg.AssetSelection.all() - INGEST_SELECTION - YEARLY_SELECTION
AUDIT_SELECTION = dg.AssetSelection.groups("audit") - YEARLY_SELECTION
# The nightly audit also screens the published files again, every folder of them.
NIGHTLY_SELECTION = AUDIT_SELECTION | dg.AssetSelection.checks_for_assets(PUBLIC_KEY)

# Every step writes the one DuckDB file, so the writer lock serialises steps anyway; the
# in-process executor saves a Python start-up (~2-3 s on two cores) per step.
_COMMON = {"executor_def": dg.in_process_executor, "op_retry_policy": STEP_RETRY_POLICY}

ingest_job = dg.define_asset_job(
    INGEST_JOB,
    selection=INGEST_SELECTION,
    description="Load the reference tables and every new landing file "
    "(or refuse it with a reason), quarantining bad rows.",
    **_COMMON,  # type: ignore[arg-type]
)
# The yearly models build one shard per local authority, each reading the warehouse
# read-only and writing its own file, so they can run side by side under the
# multiprocess executor. By default they run in process: with one LA (an LA's own
# deployment) a process per step only adds start-up time. `IMF_PARALLEL_SHARDS` > 1 makes
# the runs the sensors request use the multiprocess executor (sensors.yearly_run_config);
# the launchpad can choose either for a single run.
IN_PROCESS: dict[str, object] = {"execution": {"config": {"in_process": {}}}}
# The code location's module (pyproject.toml's [tool.dagster] module_name).
DEFINITIONS_MODULE = "pipelines.definitions"


def multiprocess_execution(max_concurrent: int) -> dict[str, object]:
    """The multiprocess executor's config, each step's process forked from a server that
    has imported the definitions once. Dagster's default, `spawn`, starts each step in a
    fresh interpreter that imports them again (~2 s a step; at national scale, with two
    at a time, the year's 152 shard steps took 251 s forked, and were still running after
    318 s spawned: docs/scaling.md)."""
    return {"config": {"multiprocess": {
        "max_concurrent": max_concurrent,
        "start_method": {"forkserver": {"preload_modules": [DEFINITIONS_MODULE]}},
    }}}


yearly_models_job = dg.define_asset_job(
    YEARLY_MODELS_JOB,
    selection=YEARLY_SELECTION,  # partitioned by academic year, inferred from the assets
    description="Rebuild staging, marts and indicator cells for one academic year, "
    "one shard per local authority, then assemble them into the warehouse.",
    executor_def=dg.multi_or_in_process_executor,
    config=IN_PROCESS,
    op_retry_policy=STEP_RETRY_POLICY,
)
publish_job = dg.define_asset_job(
    PUBLISH_JOB,
    selection=PUBLISH_SELECTION,
    description="Roll up indicators, apply disclosure control, validate, and "
    "publish the tables, reports and the audit bundle.",
    **_COMMON,  # type: ignore[arg-type]
)
nightly_audit_job = dg.define_asset_job(
    NIGHTLY_AUDIT_JOB,
    selection=NIGHTLY_SELECTION,
    description="Re-run the audit assets and their Great Expectations checks against "
    "the warehouse as it stands, and the EES screener on every published file (nothing "
    "is re-ingested or re-published).",
    **_COMMON,  # type: ignore[arg-type]
)

JOBS: tuple[dg.UnresolvedAssetJobDefinition, ...] = (
    ingest_job,
    yearly_models_job,
    publish_job,
    nightly_audit_job,
)
