"""The models as Dagster assets: materialised in process on a temporary warehouse file."""

from __future__ import annotations

from typing import Any

import dagster as dg
import duckdb
from dagster import DagsterInstance

from pipelines.automation.partitions import ACADEMIC_YEAR
from pipelines.indicators.assets import disclosure_control, published_values
from pipelines.model_defs import defs, model_assets
from pipelines.resources.warehouse import Warehouse
from pipelines.settings import ImfSettings
from pipelines.yearly import LA_SHARDS_KEY

from .conftest import Fixture, create_inputs

YEAR = "2025/26"


def row_counts(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    counts = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key == LA_SHARDS_KEY:  # the LA shard, recorded per LA
            continue
        metadata = materialization.metadata
        if "dagster/row_count" not in metadata:  # a view model: nothing stored to count
            assert getattr(metadata["materialized"], "value", None) == "view", metadata
            continue
        row_count = metadata["dagster/row_count"]
        counts[materialization.asset_key.path[-1]] = getattr(row_count, "value", row_count)
    return counts


def test_assets_materialise_a_partition_then_publish(imf_env: Any) -> None:
    conn = duckdb.connect(str(imf_env.warehouse))
    create_inputs(conn)
    wh = Fixture(conn)
    wh.group("G1", "201")
    wh.school(1, "G1", "201")
    wh.pupils(1, YEAR, 30, sessions_attended=95)
    wh.pupils(1, YEAR, 12, sen_provision="K", suspensions=1)
    wh.pupils(1, YEAR, 4, sen_provision="E")
    conn.close()

    resources = {
        "warehouse": Warehouse(path=str(imf_env.warehouse)),
        "settings": ImfSettings(
            landing_dir=str(imf_env.landing),
            warehouse=str(imf_env.warehouse),
            publish_dir=str(imf_env.publish),
            pseudonym_key=imf_env.key,
            suppression_threshold=10,
        ),
    }
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ACADEMIC_YEAR, [YEAR])
    yearly, *rollups = model_assets()
    assert yearly.partitions_def is not None
    assert all(a.partitions_def is None for a in rollups)
    # The yearly job runs only year-partitioned assets: nothing they read may be built
    # outside it (apart from reference and raw tables).
    assert {a.key.path[0] for a in rollups} == {"indicators"}

    # Staging is the ingest side's; the test builds those tables itself, so the yearly
    # asset runs without it (its LA shard reads staging from the warehouse instead).
    downstream = [key for key in yearly.keys if key.path[0] != "staging"]
    result = dg.materialize(
        [yearly], partition_key=YEAR, instance=instance, resources=resources, selection=downstream
    )
    assert result.success
    rows = row_counts(result)
    assert rows["fct_pupil_years"] == 46
    assert rows["ind_suspended_percent"] == 3  # the N, K and E cells of G1

    result = dg.materialize(
        [*rollups, published_values, disclosure_control],
        instance=instance,
        resources=resources,
    )
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "disclosure_control" and check.passed

    with duckdb.connect(str(imf_env.warehouse), read_only=True) as read:
        found = read.execute(
            "SELECT value FROM indicators.published_values WHERE level = 'partnership_group' "
            "AND indicator_id = 'suspended_percent' AND sen_breakdown = 'All pupils'"
        ).fetchone()
    assert found == ("26.1",)  # 12 of 46


def test_definitions_hold_every_model_and_the_blocking_check() -> None:
    specs = {
        spec.key.to_user_string(): spec
        for asset in defs.assets or []
        if isinstance(asset, dg.AssetsDefinition)
        for spec in asset.specs
    }
    assert {
        "marts/fct_pupil_years", "indicators/indicator_values",
        "indicators/published_values", "indicators/ind_attendance_percent",
    } <= set(specs)  # fmt: skip
    fct = specs["marts/fct_pupil_years"]
    assert fct.group_name == "marts"
    assert dg.AssetKey(["staging", "stg_outcomes__pupil_years"]) in {d.asset_key for d in fct.deps}
    assert specs["indicators/published_values"].group_name == "indicators"
    (spec,) = disclosure_control.check_specs
    assert spec.blocking
