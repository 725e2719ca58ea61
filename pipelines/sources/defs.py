"""The four ingest assets with their checks."""

import dagster as dg

from pipelines.sources.allocations.assets import allocations_asset, allocations_checks
from pipelines.sources.outcomes.assets import outcomes_asset, outcomes_checks
from pipelines.sources.spend.assets import spend_asset, spend_checks
from pipelines.sources.voice.assets import voice_asset, voice_checks

defs = dg.Definitions(
    assets=[spend_asset, allocations_asset, outcomes_asset, voice_asset],
    asset_checks=[*spend_checks, *allocations_checks, *outcomes_checks, *voice_checks],
)
