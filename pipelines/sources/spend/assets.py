"""The spend ingest asset (key raw/spend) and its reconciliation and contract checks."""

from pipelines.sources.ingest_asset import build_ingest_definitions
from pipelines.sources.spend.contract import SPEC

spend_asset, spend_checks = build_ingest_definitions(SPEC)
