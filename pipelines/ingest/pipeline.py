"""Ingest every new file of one source: load or refuse each, in its own transaction.

For each file in `<landing>/<source>/`: skip it if it was seen before (same name, size and
mtime, or the same bytes under any name); otherwise sniff, read, check and write it inside
one DuckDB transaction — raw rows, quarantine, submission log, units and supersession —
so a killed run leaves nothing half-loaded. A file that cannot be loaded is logged as
refused and moved to `<landing>/_refused/<source>/` with its bytes intact.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.ingest.files import (
    LandingFile,
    discover,
    fingerprint,
    move_to_refused,
    unchanged,
)
from pipelines.ingest.headers import map_header
from pipelines.ingest.parsers import ROW, cleaned
from pipelines.ingest.pseudonym import Pseudonymiser
from pipelines.ingest.readers import OVERFLOW, Table, read_csv, read_xlsx
from pipelines.ingest.reference import ReferenceCodes, load_reference
from pipelines.ingest.rules import FileRefused
from pipelines.ingest.sniff import detect_encoding, sniff_format
from pipelines.ingest.spec import SourceSpec
from pipelines.ingest.store import (
    LogEntry,
    known_file,
    logged_status,
    remember_file,
    write_chunk,
    write_log,
    write_units,
)
from pipelines.ingest.supersession import update_current
from pipelines.ingest.tables import ensure_tables
from pipelines.ingest.validate import check_chunk, duplicate_rows

DEFAULT_CHUNK_ROWS = 500_000
_log = logging.getLogger(__name__)


@dataclass
class FileOutcome:
    file_name: str
    submission_id: str
    status: str  # loaded | refused | duplicate (same bytes as before) | unchanged | changing
    reason: str | None = None
    refusal_kind: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    academic_years: list[str] = field(default_factory=list)


@dataclass
class IngestSummary:
    source: str
    files: list[FileOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(f.status == status for f in self.files)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def academic_years(self) -> list[str]:
        return sorted({y for f in self.files for y in f.academic_years})


@dataclass
class _Run:
    spec: SourceSpec
    landing: Path
    conn: duckdb.DuckDBPyConnection
    reference: ReferenceCodes
    pseudonymiser: Pseudonymiser
    workdir: Path | None
    chunk_rows: int
    progress: Callable[[str], None]

    def label(self, file: LandingFile) -> str:
        return f"{self.spec.name}/{file.name}"


def ingest_files(
    spec: SourceSpec,
    landing: Path,
    pseudonym_key: str,
    conn: duckdb.DuckDBPyConnection,
    *,
    workdir: Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    today: date | None = None,
    progress: Callable[[str], None] = _log.info,
) -> IngestSummary:
    """Load or refuse every new file of one source; `conn` must have no open transaction."""
    ensure_tables(conn, spec)
    run = _Run(spec, landing, conn, load_reference(conn, today), Pseudonymiser(pseudonym_key),
               workdir, chunk_rows, progress)
    files, notes = discover(landing, spec.name)
    summary = IngestSummary(spec.name, notes=notes)
    for note in notes:
        progress(note)
    for file in files:
        outcome = _ingest_file(run, file)
        summary.files.append(outcome)
        if outcome.status in ("loaded", "refused"):
            progress(_describe(run, file, outcome))
    return summary


def _describe(run: _Run, file: LandingFile, outcome: FileOutcome) -> str:
    if outcome.status == "refused":
        return f"✗ {run.label(file)} refused: {outcome.reason}"
    return (f"✓ {run.label(file)}: {outcome.rows_read} rows read, {outcome.rows_loaded} "
            f"loaded, {outcome.rows_quarantined} quarantined")


def _ingest_file(run: _Run, file: LandingFile) -> FileOutcome:
    conn = run.conn
    if not file.regular:
        token = f"{file.source}/{file.name}:{file.mtime_ns}".encode()
        return _refuse(run, file, hashlib.sha256(b"not-a-regular-file:" + token).hexdigest(),
                       FileRefused("unsafe_path", "it is a link, folder or device, not a "
                                   "regular file. Copy the file itself into the folder."))
    seen = known_file(conn, file)
    if seen is not None:
        if logged_status(conn, seen) == "refused":  # a crash came between log and move
            move_to_refused(file, run.landing, seen)
        return FileOutcome(file.name, seen, "unchanged")
    print_ = fingerprint(file.path)
    earlier = logged_status(conn, print_.submission_id)
    if earlier is not None:
        conn.begin()
        remember_file(conn, file, print_.submission_id)
        conn.commit()
        if earlier == "refused":
            move_to_refused(file, run.landing, print_.submission_id)
        run.progress(f"= {run.label(file)}: same bytes as an earlier submission, not loaded again")
        return FileOutcome(file.name, print_.submission_id, "duplicate")
    entry = LogEntry(print_.submission_id, file, str(file.path), "loaded")
    conn.begin()
    try:
        years = _load(run, file, print_.head, print_.utf8, print_.has_nul, entry)
        if not unchanged(file):
            conn.rollback()
            run.progress(f"… {run.label(file)} changed while being read: it will be read on the "
                         "next run")
            return FileOutcome(file.name, entry.submission_id, "changing")
        write_log(conn, entry)
        remember_file(conn, file, entry.submission_id)
        update_current(conn, run.spec.name)
        conn.commit()
    except FileRefused as refusal:
        conn.rollback()
        return _refuse(run, file, entry.submission_id, refusal, entry)
    except (pl.exceptions.PolarsError, UnicodeError) as error:
        # Malformed text found part-way through (e.g. an unterminated quote).
        conn.rollback()
        return _refuse(run, file, entry.submission_id, FileRefused(
            "unreadable_file",
            # Only the error's type: Polars messages can quote the file's content (a UPN).
            f"it could not be read as CSV ({type(error).__name__}). "
            "Check it opens in Excel, save it as CSV UTF-8 and send it again.",
        ), entry)
    except BaseException:
        conn.rollback()
        raise
    return FileOutcome(file.name, entry.submission_id, "loaded", entry.reason, None,
                       entry.rows_read, entry.rows_loaded, entry.rows_quarantined, years)


def _refuse(run: _Run, file: LandingFile, submission_id: str, refusal: FileRefused,
            entry: LogEntry | None = None) -> FileOutcome:
    reason = f"{run.label(file)} was not loaded: {refusal.message}"
    target = run.landing / "_refused" / file.source / file.name
    run.conn.begin()
    write_log(run.conn, LogEntry(
        submission_id, file, str(target), "refused",
        file_format=entry.file_format if entry else None,
        encoding=entry.encoding if entry else None,
        reason=reason, refusal_kind=refusal.kind,
    ))
    remember_file(run.conn, file, submission_id)
    run.conn.commit()
    # Logged first, moved second: if the move never happens, the next run repeats it.
    moved = move_to_refused(file, run.landing, submission_id)
    if moved != target:
        run.conn.execute(
            "UPDATE audit.submission_log SET landing_path = ? WHERE submission_id = ? "
            "AND status = 'refused'", [str(moved), submission_id])
    return FileOutcome(file.name, submission_id, "refused", reason, refusal.kind)


def _read(run: _Run, file: LandingFile, head: bytes, utf8: bool, has_nul: bool,
          entry: LogEntry, tmp: Path) -> Table:
    entry.file_format = sniff_format(file.name, head, file.size)
    if entry.file_format == "xlsx":
        return read_xlsx(file.path, tmp)
    entry.encoding = detect_encoding(file.path, head, utf8, has_nul)
    return read_csv(file.path, entry.encoding, tmp)


def _load(run: _Run, file: LandingFile, head: bytes, utf8: bool, has_nul: bool,
          entry: LogEntry) -> list[str]:
    """Read, check and write one file's rows; fills `entry`; returns its academic years."""
    spec = run.spec
    contract = spec.contract.bound(run.reference)
    with tempfile.TemporaryDirectory(prefix="imf-ingest-", dir=run.workdir) as tmp:
        table = _read(run, file, head, utf8, has_nul, entry, Path(tmp))
        header = map_header(table.header, spec)
        entry.extra_columns = header.extra_columns
        notes = list(table.notes)
        if header.extra_columns:
            notes.append("columns not in the contract were ignored: "
                         + ", ".join(f"'{c}'" for c in header.extra_columns))
        entry.reason = "; ".join(notes) or None
        body = (
            table.body.select(
                ROW,
                *[pl.col(cell).alias(name) for cell, name in header.cells.items()],
                *[pl.lit(None, pl.String).alias(name) for name in header.absent_optional],
                OVERFLOW,
            )
            .select(ROW, *spec.column_names, OVERFLOW)
            # Rows with no value at all (Excel's trailing ',,,,' lines) hold nothing to load.
            .filter(pl.any_horizontal(
                [cleaned(c).is_not_null() for c in [*spec.column_names, OVERFLOW]]))
        )
        duplicates = duplicate_rows(
            body.select(ROW, *spec.duplicate_key).collect(), spec
        ) if spec.duplicate_key else pl.Series(ROW, [], dtype=pl.Int64)
        units: list[pl.DataFrame] = []
        for chunk in body.collect_batches(chunk_size=run.chunk_rows):
            result = check_chunk(chunk, spec, contract, run.pseudonymiser, duplicates)
            write_chunk(run.conn, spec, entry.submission_id, result)
            entry.rows_read += chunk.height
            entry.rows_loaded += result.good.height
            entry.rows_quarantined += result.bad_rows.height
            units.append(result.good.group_by(list(spec.unit_keys)).agg(
                pl.len().alias("rows_loaded")))
    if not units:
        return []
    covered = (pl.concat(units).group_by(list(spec.unit_keys))
               .agg(pl.col("rows_loaded").sum()))
    write_units(run.conn, spec, entry.submission_id, covered)
    return sorted(covered.get_column("academic_year").unique().to_list())
