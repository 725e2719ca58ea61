"""The outcomes ingest asset (key raw/outcomes) and its reconciliation and contract checks."""

from pipelines.sources.ingest_asset import build_ingest_definitions
from pipelines.sources.outcomes.contract import SPEC

outcomes_asset, outcomes_checks = build_ingest_definitions(SPEC)
