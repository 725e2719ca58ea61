"""Writing files' results: raw rows, quarantine, submission log and units.

One file's, or several small files' together (one statement per table, whatever the
number of files). All of it runs inside the caller's transaction, so a file is in the
warehouse whole or not at all.
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


def _insert_frames(conn: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str],
                   select: str, frames: Sequence[tuple[str, pl.DataFrame]],
                   **params: object) -> None:
    """INSERT the `frames` of one or more submissions (id, frame) in one statement; `select`
    names a row's submission id `{submission_id}`."""
    frames = [(submission_id, frame) for submission_id, frame in frames if frame.height]
    if not frames:
        return
    if len(frames) == 1:  # a constant: a column of positions costs ~25 ms per 500k rows
        frame, submission_id = frames[0][1], "$submission_ids[1]"
    else:  # the position of its frame: 1, 2, ...
        # Relaxed: a column all null in one file's frame may be typed Null there; the
        # INSERT casts every value to the table's type either way.
        frame = pl.concat([f.with_columns(pl.lit(i, pl.UInt32).alias("_submission"))
                           for i, (_, f) in enumerate(frames, start=1)], how="vertical_relaxed")
        submission_id = "$submission_ids[_submission]"
    _insert_from(conn, frame,
                 f"INSERT INTO {table} ({', '.join(columns)}) "
                 f"SELECT {select.format(submission_id=submission_id)} FROM _ingest_frame",
                 {"submission_ids": [submission_id for submission_id, _ in frames], **params})


def _insert_from(conn: duckdb.DuckDBPyConnection, frame: pl.DataFrame, insert: str,
                 params: dict[str, object] | None = None) -> None:
    """Run `insert`, which reads `frame` as `_ingest_frame`."""
    conn.register("_ingest_frame", frame.to_arrow())
    try:
        conn.execute(insert, params)
    finally:
        conn.unregister("_ingest_frame")


def write_chunks(conn: duckdb.DuckDBPyConnection, spec: SourceSpec,
                 results: Sequence[tuple[str, ChunkResult]]) -> None:
    """Raw rows and quarantine of checked chunks, each with its submission id."""
    columns = [name for name, _ in raw_columns(spec)]
    casts = ", ".join(f"CAST({name} AS {sql_type})" for name, sql_type in raw_columns(spec)[2:])
    _insert_frames(conn, f"raw.{spec.name}", columns, "{submission_id}, row_number, " + casts,
                   [(sid, result.good) for sid, result in results])
    _insert_frames(
        conn, "audit.quarantine",
        ["submission_id", "source", "row_number", "column_name", "rule", "value"],
        "{submission_id}, $source, row_number, column_name, rule, value",
        [(sid, result.failures) for sid, result in results], source=spec.name,
    )
    _insert_frames(
        conn, "audit.quarantine_rows", ["submission_id", "source", "row_number", "row_json"],
        "{submission_id}, $source, row_number, row_json",
        [(sid, result.bad_rows) for sid, result in results], source=spec.name,
    )


def write_units(conn: duckdb.DuckDBPyConnection, spec: SourceSpec,
                units: Sequence[tuple[str, pl.DataFrame]]) -> None:
    """Per submission id, its unit keys and rows_loaded; supersession then sets is_current."""
    term = "term" if "term" in spec.unit_keys else "NULL"
    _insert_frames(
        conn, "audit.submission_units",
        ["source", "submission_id", "urn", "academic_year", "term", "rows_loaded",
         "is_current", "superseded_by"],
        "$source, {submission_id}, urn, academic_year, " + term + ", rows_loaded, FALSE, NULL",
        units, source=spec.name,
    )


def _insert_rows(conn: duckdb.DuckDBPyConnection, table: str,
                 rows: Sequence[dict[str, object]]) -> None:
    """Rows (column: value) in one statement, whatever their number (a VALUES list of 256
    rows took ~100 ms, as a frame ~8 ms); DuckDB casts each column to the table's type."""
    if not rows:
        return
    _insert_from(conn, pl.DataFrame(rows, infer_schema_length=None),
                 f"INSERT INTO {table} BY NAME SELECT * FROM _ingest_frame")


def write_log(conn: duckdb.DuckDBPyConnection, entries: Sequence[LogEntry]) -> None:
    received_at = datetime.now(UTC).replace(tzinfo=None)
    _insert_rows(conn, "audit.submission_log", [{
        "submission_id": entry.submission_id, "source": entry.file.source,
        "file_name": entry.file.name, "landing_path": entry.landing_path,
        "file_mtime": entry.file.mtime, "received_at": received_at,
        "file_format": entry.file_format, "encoding": entry.encoding, "status": entry.status,
        "reason": entry.reason, "rows_read": entry.rows_read, "rows_loaded": entry.rows_loaded,
        "rows_quarantined": entry.rows_quarantined, "extra_columns": entry.extra_columns,
        "refusal_kind": entry.refusal_kind,
    } for entry in entries])


def remember_files(conn: duckdb.DuckDBPyConnection,
                   files: Sequence[tuple[LandingFile, str]]) -> None:
    """Each file (name, size, mtime) with the id of the submission its bytes are."""
    seen_at = datetime.now(UTC).replace(tzinfo=None)
    _insert_rows(conn, "audit.landing_files", [{
        "source": file.source, "file_name": file.name, "file_size": file.size,
        "file_mtime_ns": file.mtime_ns, "submission_id": submission_id, "seen_at": seen_at,
    } for file, submission_id in files])


def known_files(conn: duckdb.DuckDBPyConnection,
                source: str) -> dict[tuple[str, int, int], str]:
    """(name, size, mtime) of every file of the source seen before: the id of the
    submission its bytes were. One query, not one per file (~2 ms each)."""
    return {(name, size, mtime_ns): submission_id for name, size, mtime_ns, submission_id
            in conn.execute("SELECT file_name, file_size, file_mtime_ns, submission_id "
                            "FROM audit.landing_files WHERE source = ?", [source]).fetchall()}


def logged_status(conn: duckdb.DuckDBPyConnection, submission_id: str) -> str | None:
    row = first_row(
        conn,
        "SELECT status FROM audit.submission_log WHERE submission_id = ? LIMIT 1",
        [submission_id],
    )
    return None if row is None else str(row[0])
