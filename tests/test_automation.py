"""Jobs, policies and the instance configuration the automation relies on."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from pipelines.automation.jobs import (
    INGEST_JOB,
    JOBS,
    NIGHTLY_AUDIT_JOB,
    PUBLISH_JOB,
    STEP_RETRY_POLICY,
    YEARLY_MODELS_JOB,
)
from pipelines.automation.partitions import academic_year_partitions
from pipelines.automation.policies import apply_policies

REPO = Path(__file__).resolve().parents[1]


def _stages() -> dg.Definitions:
    """Stand-in assets with the stages' real groups, keys and partitions."""

    @dg.asset(key=["ref", "reference_tables"], group_name="reference")
    def reference_tables() -> None: ...

    @dg.asset(key=["raw", "outcomes"], group_name="ingest", deps=[reference_tables])
    def raw_outcomes() -> None: ...

    @dg.asset(key=["staging", "stg_outcomes__pupil_years"], group_name="staging",
              deps=[raw_outcomes], partitions_def=academic_year_partitions)
    def stg() -> None: ...

    @dg.asset(key=["indicators", "ind_attendance_percent"], group_name="indicators",
              deps=[stg], partitions_def=academic_year_partitions)
    def ind() -> None: ...

    @dg.asset(key=["indicators", "published_values"], group_name="indicators", deps=[ind])
    def published_values() -> None: ...

    @dg.asset(key=["audit", "gx_validation"], group_name="audit", deps=[published_values])
    def gx_validation() -> None: ...

    @dg.asset(key=["published", "public"], group_name="publish", deps=[gx_validation])
    def public() -> None: ...

    return dg.Definitions(
        assets=[reference_tables, raw_outcomes, stg, ind, published_values, gx_validation,
                public]
    )


def _selected(repo: dg.RepositoryDefinition, job: str) -> set[str]:
    return {k.to_user_string() for k in repo.get_job(job).asset_layer.selected_asset_keys}


def test_jobs_split_the_flow_into_ingest_years_publish_and_audit() -> None:
    defs = dg.Definitions.merge(_stages(), dg.Definitions(jobs=list(JOBS)))
    with dg.instance_for_test():
        repo = defs.get_repository_def()
    assert _selected(repo, INGEST_JOB) == {"ref/reference_tables", "raw/outcomes"}
    assert _selected(repo, YEARLY_MODELS_JOB) == {
        "staging/stg_outcomes__pupil_years", "indicators/ind_attendance_percent"
    }
    assert repo.get_job(YEARLY_MODELS_JOB).partitions_def == academic_year_partitions
    assert _selected(repo, PUBLISH_JOB) == {
        "indicators/published_values", "audit/gx_validation", "published/public"
    }
    assert _selected(repo, NIGHTLY_AUDIT_JOB) == {"audit/gx_validation"}


def test_every_job_retries_failed_steps_and_only_shards_run_in_parallel() -> None:
    for job in JOBS:
        assert job.op_retry_policy == STEP_RETRY_POLICY
        # Only the yearly job's LA shards write files of their own; every other step writes
        # the one warehouse, so it runs in one process (no start-up per step).
        expected = (dg.multi_or_in_process_executor if job.name == YEARLY_MODELS_JOB
                    else dg.in_process_executor)
        assert job.executor_def == expected, job.name
    assert STEP_RETRY_POLICY.max_retries == 2


def test_published_outputs_carry_a_freshness_expectation() -> None:
    defs = apply_policies(_stages())
    specs = {spec.key.to_user_string(): spec for spec in _specs(defs)}
    for published in ("indicators/published_values", "published/public"):
        policy = specs[published].freshness_policy
        assert isinstance(policy, dg.FreshnessPolicy), published
        assert policy.deadline_cron == "0 9 17 3,6,11 *"  # type: ignore[attr-defined]
    assert specs["staging/stg_outcomes__pupil_years"].freshness_policy is None


def _specs(defs: dg.Definitions) -> list[dg.AssetSpec]:
    return [spec for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)
            for spec in a.specs]


def test_instance_config_queues_runs_one_at_a_time(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None and queue.max_concurrent_runs == 1
        assert instance.run_retries_enabled
        assert not instance.run_retries_retry_on_asset_or_op_failure
        assert instance.freshness_enabled
        assert instance.run_monitoring_enabled
    raw = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert raw["telemetry"] == {"enabled": False}
    assert "storage" not in raw  # local SQLite under DAGSTER_HOME for the embedded default


def test_yearly_runs_build_shards_in_process_unless_asked_for_parallel() -> None:
    from pipelines.automation.sensors import yearly_run_config
    from pipelines.definitions import build_definitions

    # By default one shard of every LA, in the run's process: a process per step would
    # only add start-up time, and per-shard costs are paid once.
    in_process: dict[str, Any] = {"execution": {"config": {"in_process": {}}}}
    one_shard = {"ops": {"models_by_local_authority": {"ops": {"plan_local_authorities": {
        "config": {"shards": 1}}}}}}
    assert yearly_run_config() == {**one_shard, **in_process}
    # Resolved inside a test instance: after any test that used instance_for_test, Dagster's
    # definitions-state storage points at the instance it disposed of (test_schedules.py).
    with dg.instance_for_test():
        job = build_definitions().resolve_job_def(YEARLY_MODELS_JOB)  # launched from the UI
    assert job.partitioned_config is not None
    # (The plan's own default is one shard.)
    assert job.partitioned_config.get_run_config_for_partition_key("2025/26") == in_process
    # IMF_PARALLEL_SHARDS=3: the sensors' runs split the LAs into three shards, built at
    # once.
    assert yearly_run_config(["805"], 3) == {
        "ops": {"models_by_local_authority": {"ops": {"plan_local_authorities": {
            "config": {"shards": 3, "local_authorities": ["805"]}}}}},
        "execution": {"config": {"multiprocess": {
            "max_concurrent": 3,
            # Each step's process forked from one that imported the code location once.
            "start_method": {"forkserver": {"preload_modules": ["pipelines.definitions"]}},
        }}},
    }
    # The module preloaded is the code location Dagster loads.
    with (Path(__file__).parents[1] / "pyproject.toml").open("rb") as handle:
        assert tomllib.load(handle)["tool"]["dagster"]["module_name"] == "pipelines.definitions"
