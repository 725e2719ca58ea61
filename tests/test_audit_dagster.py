"""The audit in Dagster: one check per suite on ["audit", "gx_validation"], and the gate
["audit", "publish_gate"] that keeps ["published", "public"] from running when a critical
expectation fails (the bundle is still built)."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.audit.assets import PUBLISH_GATE, audit_bundle, gx_validation, publish_gate
from pipelines.audit.defs import defs as audit_defs
from pipelines.audit.suite_specs import all_suites
from pipelines.publish.atomic import newest_version
from pipelines.resources.warehouse import Warehouse
from pipelines.settings import ImfSettings

sys.path.insert(0, str(Path(__file__).parent))
from audit.fixture_warehouse import build_clean_warehouse


@dg.asset(key=["indicators", "published_values"])
def published_values_stub() -> None:
    """Stands in for the indicators stage: the fixture warehouse already holds the table."""


@dg.asset(key=["published", "public"], deps=[published_values_stub, PUBLISH_GATE])
def public_stub() -> None:
    """Stands in for the publishing asset."""


def test_definitions_load(tmp_path: Path) -> None:
    resources = dg.Definitions(resources={
        "settings": ImfSettings(landing_dir=str(tmp_path), warehouse=str(tmp_path / "w.duckdb"),
                                publish_dir=str(tmp_path), pseudonym_key="k"),
        "warehouse": Warehouse(path=str(tmp_path / "w.duckdb"))})
    repo = dg.Definitions.merge(audit_defs, resources).get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"audit/gx_validation", "audit/bundle"} <= keys


@pytest.mark.parametrize("critical_problem", [False, True], ids=["clean", "critical"])
def test_critical_failure_blocks_publishing(tmp_path: Path, critical_problem: bool) -> None:
    warehouse = build_clean_warehouse(tmp_path / "warehouse.duckdb")
    if critical_problem:
        with duckdb.connect(str(warehouse)) as conn:
            conn.execute("UPDATE indicators.published_values SET value = '101.0' "
                         "WHERE value NOT IN ('c', 'z', 'x') AND level = 'national'")
    settings = ImfSettings(landing_dir=str(tmp_path / "landing"), warehouse=str(warehouse),
                           publish_dir=str(tmp_path / "published"), pseudonym_key="k")
    result = dg.materialize(
        [published_values_stub, gx_validation, publish_gate, audit_bundle, public_stub],
        resources={"settings": settings, "warehouse": Warehouse(path=str(warehouse))},
        raise_on_error=False,
    )
    materialized = {key.to_user_string() for e in result.get_asset_materialization_events()
                    if (key := e.asset_key) is not None}
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert {"audit/gx_validation", "audit/bundle"} <= materialized
    assert {f"gx_{s.name}" for s in all_suites()} == set(checks)
    suite = checks["gx_published_values"]
    assert "data_docs" in suite.metadata and "expectations" in suite.metadata
    if critical_problem:
        assert not suite.passed and not result.success
        assert "audit/publish_gate" not in materialized
        assert suite.severity == dg.AssetCheckSeverity.ERROR
        assert "published/public" not in materialized
        index = (tmp_path / "published" / "audit" / "index.html").read_text()
        assert "Publishing was blocked" in index
    else:
        assert suite.passed and result.success
        assert {"audit/publish_gate", "published/public"} <= materialized
        # The run publishes: its bundle waits, written, for the publishing step to switch
        # `audit` to it with `public` (the stand-in here does not).
        assert not (tmp_path / "published" / "audit").exists()
        assert newest_version(tmp_path / "published", "audit") is not None


def test_bundle_alone_is_shown_at_once(tmp_path: Path) -> None:
    """Without the publishing step in the run (the nightly audit, the bundle from the UI),
    nothing else would switch to the bundle: it is shown as soon as it is written."""
    warehouse = build_clean_warehouse(tmp_path / "warehouse.duckdb")
    settings = ImfSettings(landing_dir=str(tmp_path / "landing"), warehouse=str(warehouse),
                           publish_dir=str(tmp_path / "published"), pseudonym_key="k")
    result = dg.materialize(
        [published_values_stub, gx_validation, publish_gate, audit_bundle],
        resources={"settings": settings, "warehouse": Warehouse(path=str(warehouse))},
    )
    assert result.success
    assert (tmp_path / "published" / "audit" / "index.html").is_file()
