"""The Dagster asset and its blocking screener check, run in process on the fixture."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import pytest

from pipelines.catalog import IndicatorMeta
from pipelines.publish import assets as publish_assets
from pipelines.publish.assets import ScreenerConfig
from pipelines.publish.defs import defs
from pipelines.publish.reuse import MANIFEST
from pipelines.resources.warehouse import Warehouse
from pipelines.settings import ImfSettings

from .conftest import build_warehouse


def test_definitions_load(imf_env: object) -> None:
    from pipelines.resources.defs import resource_defs

    repo = dg.Definitions.merge(defs, resource_defs()).get_repository_def()
    assert dg.AssetKey(["published", "public"]) in repo.asset_graph.get_all_asset_keys()
    spec = next(iter(publish_assets.published_public.specs))
    assert {d.asset_key for d in spec.deps} == set(publish_assets.UPSTREAM)
    assert spec.group_name == "publish"


def test_materialize_with_blocking_check(
    tmp_path: Path, catalog: tuple[IndicatorMeta, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    monkeypatch.setattr("pipelines.publish.core.indicator_catalog", lambda: catalog)
    settings = ImfSettings(
        landing_dir=str(tmp_path / "landing"), warehouse=str(db),
        publish_dir=str(tmp_path / "published"), pseudonym_key="test-key",
        suppression_threshold=10,
    )
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [publish_assets.published_public, publish_assets.ees_screener],
        resources={"settings": settings, "warehouse": Warehouse(path=str(db))},
        instance=instance,
    )
    assert result.success
    # Each group's published folder is recorded as its own partition, with its files.
    groups = sorted(p.name for p in (tmp_path / "published" / "public" / "groups").iterdir())
    assert len(groups) >= 2
    key = publish_assets.GROUP_REPORTS_KEY
    assert instance.get_materialized_partitions(key) == set(groups)
    event = instance.get_latest_materialization_event(key)
    assert event is not None and event.asset_materialization is not None
    recorded = event.asset_materialization.metadata
    files = recorded["files"].value
    assert isinstance(files, list)
    assert f"{event.asset_materialization.partition}.xlsx" in files
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    index = tmp_path / "published" / "public" / "index.html"
    assert meta["index"].value == str(index)
    assert str(meta["report_202-01"].value).startswith("file://")
    assert index.exists()


def _published_fixture(tmp_path: Path, catalog: tuple[IndicatorMeta, ...],
                       monkeypatch: pytest.MonkeyPatch) -> ImfSettings:
    """The fixture warehouse published by the asset; the settings the check reads."""
    db = build_warehouse(tmp_path / "wh.duckdb")
    monkeypatch.setattr("pipelines.publish.core.indicator_catalog", lambda: catalog)
    settings = ImfSettings(
        landing_dir=str(tmp_path / "landing"), warehouse=str(db),
        publish_dir=str(tmp_path / "published"), pseudonym_key="test-key",
    )
    resources = {"settings": settings, "warehouse": Warehouse(path=str(db))}
    assert dg.materialize([publish_assets.published_public], resources=resources).success
    return settings


def test_check_fails_on_broken_published_files(
    tmp_path: Path, catalog: tuple[IndicatorMeta, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _published_fixture(tmp_path, catalog, monkeypatch)
    data = tmp_path / "published" / "public" / "ees" / "imf_spend_context.csv"
    data.write_text(data.read_text().replace("Academic year", "Academic Year"))
    # The check alone, against the damaged public files.
    check_result = publish_assets.ees_screener(settings=settings, config=ScreenerConfig())
    assert isinstance(check_result, dg.AssetCheckResult)
    assert not check_result.passed
    assert "time_identifier" in str(check_result.metadata["errors"].value)


def test_check_fails_on_a_group_file_damaged_after_publishing(
    tmp_path: Path, catalog: tuple[IndicatorMeta, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group folder is taken as screened only while it is byte-identical to what was
    screened; a damaged one is screened again and fails."""
    settings = _published_fixture(tmp_path, catalog, monkeypatch)
    intact = publish_assets.ees_screener(settings=settings, config=ScreenerConfig())
    assert isinstance(intact, dg.AssetCheckResult) and intact.passed
    assert intact.metadata["group_folders_as_recorded"].value == 2
    assert intact.metadata["group_folders_screened"].value == 0
    data = (tmp_path / "published" / "public" / "groups" / "202-01"
            / "imf_spend_context_202-01.csv")
    data.write_text(data.read_text().replace("Academic year", "Academic Year"))
    damaged = publish_assets.ees_screener(settings=settings, config=ScreenerConfig())
    assert isinstance(damaged, dg.AssetCheckResult)
    assert not damaged.passed
    assert damaged.metadata["group_folders_screened"].value == 1
    assert "imf_spend_context_202-01.csv" in str(damaged.metadata["errors"].value)


def test_nightly_rescreening_reads_every_group_folder(
    tmp_path: Path, catalog: tuple[IndicatorMeta, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With rescreen_all (the nightly audit), recorded findings are not used: a group file
    changed with its manifest entry updated to match still fails the check."""
    settings = _published_fixture(tmp_path, catalog, monkeypatch)
    public = tmp_path / "published" / "public"
    data = public / "groups" / "202-01" / "imf_spend_context_202-01.csv"
    data.write_text(data.read_text().replace("Academic year", "Academic Year"))
    manifest = public.resolve() / MANIFEST
    doc = json.loads(manifest.read_text())
    doc["groups"]["202-01"]["files"][data.name] = hashlib.sha256(data.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(doc))
    trusting = publish_assets.ees_screener(settings=settings, config=ScreenerConfig())
    assert isinstance(trusting, dg.AssetCheckResult) and trusting.passed
    nightly = publish_assets.ees_screener(settings=settings,
                                          config=ScreenerConfig(rescreen_all=True))
    assert isinstance(nightly, dg.AssetCheckResult) and not nightly.passed
    assert nightly.metadata["group_folders_screened"].value == 2
    assert "imf_spend_context_202-01.csv" in str(nightly.metadata["errors"].value)


def test_check_before_anything_is_published(tmp_path: Path) -> None:
    settings = ImfSettings(landing_dir=str(tmp_path / "landing"),
                           warehouse=str(tmp_path / "wh.duckdb"),
                           publish_dir=str(tmp_path / "published"), pseudonym_key="test-key")
    result = publish_assets.ees_screener(settings=settings,
                                         config=ScreenerConfig(rescreen_all=True))
    assert isinstance(result, dg.AssetCheckResult) and result.passed
    assert result.metadata["note"].value == "nothing has been published yet"
