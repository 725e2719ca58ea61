"""The three jobs a full run is made of, in the order the data flows.

A full run cannot be one Dagster run: the ingest assets are unpartitioned (they take
whatever files have landed), the models are partitioned by academic year, and the
published outputs span every year. So: `ingest` once, `yearly_models` once per academic
year, then `publish` once.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from pipelines.automation.partitions import academic_year_partitions

INGEST_JOB = "ingest"
YEARLY_MODELS_JOB = "yearly_models"
PUBLISH_JOB = "publish"


def _is_partitioned(asset: dg.AssetsDefinition) -> bool:
    return asset.partitions_def is not None


def build_jobs(assets: Iterable[object]) -> list[dg.UnresolvedAssetJobDefinition]:
    """Split the asset graph into ingest (reference + raw), yearly models and publish."""
    defs = [a for a in assets if isinstance(a, dg.AssetsDefinition)]
    partitioned = [key for a in defs if _is_partitioned(a) for key in a.keys]
    ingest = dg.AssetSelection.groups("reference", "ingest")
    yearly = dg.AssetSelection.assets(*partitioned)
    return [
        dg.define_asset_job(
            INGEST_JOB,
            selection=ingest,
            description="Load the reference tables and every new landing file "
            "(or refuse it with a reason), quarantining bad rows.",
        ),
        dg.define_asset_job(
            YEARLY_MODELS_JOB,
            selection=yearly,
            partitions_def=academic_year_partitions,
            description="Rebuild staging, marts and indicator cells for one academic year.",
        ),
        dg.define_asset_job(
            PUBLISH_JOB,
            selection=dg.AssetSelection.all() - ingest - yearly,
            description="Roll up indicators, apply disclosure control, validate, and "
            "publish the tables, reports and the audit bundle.",
        ),
    ]
