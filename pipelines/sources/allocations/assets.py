"""The allocations ingest asset (key raw/allocations) and its reconciliation and contract checks."""

from pipelines.sources.allocations.contract import SPEC
from pipelines.sources.ingest_asset import build_ingest_definitions

allocations_asset, allocations_checks = build_ingest_definitions(SPEC)
