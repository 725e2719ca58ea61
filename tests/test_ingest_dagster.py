"""The ingest assets in Dagster: materialised in process, checks pass, years registered."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from conftest import ImfEnv
from ingest.fixtures import ref_template, wh  # noqa: F401
from ingest.support import VALID, csv_bytes, row, write

from pipelines.automation.partitions import ACADEMIC_YEAR
from pipelines.resources.warehouse import Warehouse
from pipelines.settings import ImfSettings
from pipelines.sources.defs import defs


def test_materialise_ingest_assets(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    for source in VALID:
        write(imf_env.landing, source, f"{source}.csv",
              csv_bytes([row(source), row(source, urn="999999")]))
    write(imf_env.landing, "spend", "broken.csv", b"urn\n1\n")
    instance = dg.DagsterInstance.ephemeral()
    # Definitions types its assets as any asset-like (cacheable ones too); these are
    # plain assets and checks.
    result = dg.materialize(
        [*(defs.assets or ()), *(defs.asset_checks or ())],  # type: ignore[list-item]
        instance=instance,
        resources={"settings": ImfSettings.from_env(), "warehouse": Warehouse(path=str(wh))},
    )
    assert result.success
    checks = {(e.asset_key.path[-1], e.check_name): e.passed
              for e in result.get_asset_check_evaluations()}
    assert all(passed for (_, name), passed in checks.items() if name == "reconciliation")
    assert checks[("spend", "contract_failures")] is False  # one bad row: a warning
    assert len(checks) == 8
    spend = result.asset_materializations_for_node("raw__spend")[0].metadata
    assert spend["files_refused"].value == 1 and spend["rows_quarantined"].value == 1
    assert "urn_not_in_register" in spend["top_quarantine_reasons"].value  # type: ignore[operator]
    assert instance.get_dynamic_partitions(ACADEMIC_YEAR) == ["2025/26"]
