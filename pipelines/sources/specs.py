"""The four sources by name, and the Dagster-free entry point for ingesting one of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.ingest.pipeline import DEFAULT_CHUNK_ROWS, IngestSummary, ingest_files
from pipelines.ingest.spec import SourceSpec
from pipelines.settings import ImfSettings
from pipelines.sources.allocations.contract import SPEC as ALLOCATIONS
from pipelines.sources.outcomes.contract import SPEC as OUTCOMES
from pipelines.sources.spend.contract import SPEC as SPEND
from pipelines.sources.voice.contract import SPEC as VOICE

SPECS: dict[str, SourceSpec] = {spec.name: spec for spec in (SPEND, ALLOCATIONS, OUTCOMES, VOICE)}


def pseudonym_key(settings: ImfSettings) -> str:
    """The key's value: inside Dagster it is resolved; outside, it is still an EnvVar."""
    key = settings.pseudonym_key
    return key.get_value() or "" if isinstance(key, dg.EnvVar) else key


def ingest_source(
    source: str,
    settings: ImfSettings,
    conn: duckdb.DuckDBPyConnection,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> IngestSummary:
    """Load or refuse every new landing file of `source` into the warehouse behind `conn`."""
    extra = {"progress": progress} if progress is not None else {}
    return ingest_files(
        SPECS[source],
        settings.landing_path,
        pseudonym_key(settings),
        conn,
        workdir=Path(settings.warehouse_path).parent,
        warehouse=Path(settings.warehouse_path),
        chunk_rows=chunk_rows,
        today=today,
        **extra,
    )
