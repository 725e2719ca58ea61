"""Writing one file's results: raw rows, quarantine, submission log and units.

All of it runs inside the caller's transaction, so a file is in the warehouse whole or
not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import polars as pl

from pipelines.ingest.files import LandingFile
from pipelines.ingest.spec import SourceSpec
from pipelines.ingest.tables import raw_columns
from pipelines.ingest.validate import ChunkResult
from pipelines.resources.warehouse import first_row


@dataclass
class LogEntry:
    submission_id: str
    file: LandingFile
    landing_path: str
    status: str  # loaded | refused
    file_format: str | None = None
    encoding: str | None = None
    reason: str | None = None
    refusal_kind: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    extra_columns: list[str] = field(default_factory=list)


def _insert_frame(conn: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str],
                  select: str, frame: pl.DataFrame, params: Sequence[object]) -> None:
    if frame.height == 0:
        return
    conn.register("_ingest_frame", frame.to_arrow())
    try:
        conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM _ingest_frame",
            list(params),
        )
    finally:
        conn.unregister("_ingest_frame")


def write_chunk(conn: duckdb.DuckDBPyConnection, spec: SourceSpec, submission_id: str,
                result: ChunkResult) -> None:
    columns = [name for name, _ in raw_columns(spec)]
    casts = ", ".join(f"CAST({name} AS {sql_type})" for name, sql_type in raw_columns(spec)[2:])
    _insert_frame(conn, f"raw.{spec.name}", columns, f"?, row_number, {casts}",
                  result.good, [submission_id])
    _insert_frame(
        conn, "audit.quarantine",
        ["submission_id", "source", "row_number", "column_name", "rule", "value"],
        "?, ?, row_number, column_name, rule, value", result.failures,
        [submission_id, spec.name],
    )
    _insert_frame(
        conn, "audit.quarantine_rows", ["submission_id", "source", "row_number", "row_json"],
        "?, ?, row_number, row_json", result.bad_rows, [submission_id, spec.name],
    )


def write_units(conn: duckdb.DuckDBPyConnection, spec: SourceSpec, submission_id: str,
                units: pl.DataFrame) -> None:
    """`units`: the unit keys and rows_loaded; supersession then sets is_current."""
    term = "term" if "term" in spec.unit_keys else "NULL"
    _insert_frame(
        conn, "audit.submission_units",
        ["source", "submission_id", "urn", "academic_year", "term", "rows_loaded",
         "is_current", "superseded_by"],
        f"?, ?, urn, academic_year, {term}, rows_loaded, FALSE, NULL", units,
        [spec.name, submission_id],
    )


def write_log(conn: duckdb.DuckDBPyConnection, entry: LogEntry) -> None:
    conn.execute(
        "INSERT INTO audit.submission_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [entry.submission_id, entry.file.source, entry.file.name, entry.landing_path,
         entry.file.mtime, datetime.now(UTC).replace(tzinfo=None), entry.file_format,
         entry.encoding, entry.status, entry.reason, entry.rows_read, entry.rows_loaded,
         entry.rows_quarantined, entry.extra_columns, entry.refusal_kind],
    )


def remember_file(conn: duckdb.DuckDBPyConnection, file: LandingFile, submission_id: str) -> None:
    conn.execute(
        "INSERT INTO audit.landing_files VALUES (?, ?, ?, ?, ?, ?)",
        [file.source, file.name, file.size, file.mtime_ns, submission_id,
         datetime.now(UTC).replace(tzinfo=None)],
    )


def known_file(conn: duckdb.DuckDBPyConnection, file: LandingFile) -> str | None:
    """The submission id of a file seen before with this name, size and mtime."""
    row = first_row(
        conn,
        "SELECT submission_id FROM audit.landing_files WHERE source = ? AND file_name = ? "
        "AND file_size = ? AND file_mtime_ns = ? LIMIT 1",
        [file.source, file.name, file.size, file.mtime_ns],
    )
    return None if row is None else str(row[0])


def logged_status(conn: duckdb.DuckDBPyConnection, submission_id: str) -> str | None:
    row = first_row(
        conn,
        "SELECT status FROM audit.submission_log WHERE submission_id = ? LIMIT 1",
        [submission_id],
    )
    return None if row is None else str(row[0])
