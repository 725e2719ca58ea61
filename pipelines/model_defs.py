"""The SQL models as Dagster definitions: the yearly models, built per local authority
(yearly.py), then one asset per unpartitioned roll-up, and the published values."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import dagster as dg

from pipelines.indicators.assets import disclosure_control, published_values
from pipelines.models import build_asset, load_models
from pipelines.settings import MODELS_DIR
from pipelines.yearly import la_shards_spec, yearly_asset


@cache
def model_assets(models_dir: Path = MODELS_DIR) -> tuple[dg.AssetsDefinition, ...]:
    rollups = tuple(build_asset(m) for m in load_models(models_dir) if not m.partitioned)
    return (yearly_asset(models_dir), *rollups)


defs = dg.Definitions(
    assets=[la_shards_spec(), *model_assets(), published_values],
    asset_checks=[disclosure_control],
)
