"""The voice ingest asset (key raw/voice) and its reconciliation and contract checks."""

from pipelines.sources.ingest_asset import build_ingest_definitions
from pipelines.sources.voice.contract import SPEC

voice_asset, voice_checks = build_ingest_definitions(SPEC)
