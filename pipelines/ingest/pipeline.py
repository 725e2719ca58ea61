"""Ingest every new file of one source: load or refuse each, whole or not at all.

For each file in `<landing>/<source>/`: skip it if it was seen before (same name, size and
mtime, or the same bytes under any name); otherwise sniff, read, check and write it inside
a DuckDB transaction — raw rows, quarantine, submission log, units and supersession —
so a killed run leaves nothing half-loaded. A file gets a transaction of its own, or
small files (one per school, say) share one (`_Batch`); either way each is in the
warehouse whole or not at all. A file that cannot be loaded is logged as refused and
moved to `<landing>/_refused/<source>/` with its bytes intact (or kept where it is, with
the reason logged, if that area is not a real folder inside the landing area).

Files are read from a private working copy in an `imf-ingest-*` folder beside the warehouse
(see workdir.py); working folders left by a killed run are removed when ingest starts.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

import duckdb
import polars as pl

from pipelines.ingest.checker import ChunkChecker
from pipelines.ingest.files import (
    FileChanged,
    Fingerprint,
    LandingFile,
    UnsafePath,
    discover,
    fingerprint,
    move_to_refused,
    unchanged,
)
from pipelines.ingest.headers import map_header
from pipelines.ingest.loaded_line import LoadedLine
from pipelines.ingest.parsers import ROW, any_value
from pipelines.ingest.pseudonym import Pseudonymiser
from pipelines.ingest.readers import OVERFLOW, Table, read_csv, read_xlsx
from pipelines.ingest.reference import load_reference
from pipelines.ingest.rules import FileRefused
from pipelines.ingest.sniff import detect_encoding, sniff_format
from pipelines.ingest.spec import SourceSpec
from pipelines.ingest.store import (
    LogEntry,
    known_files,
    logged_status,
    remember_files,
    write_chunks,
    write_log,
    write_units,
)
from pipelines.ingest.supersession import update_current
from pipelines.ingest.tables import ensure_tables
from pipelines.ingest.validate import ChunkResult, check_chunks, duplicate_rows
from pipelines.ingest.workdir import remove_stale, working_folder
from pipelines.resources.warehouse import WarehouseBusy, writer_lock

DEFAULT_CHUNK_ROWS = 500_000
# Chunks smaller than this are checked together (checker.py): enough rows that Pandera's
# fixed cost per call is small beside its cost per row, few enough that checking a bundle
# still overlaps writing the one before. Files smaller than this are written together
# (`_Batch`), up to this many rows or BATCH_FILES files a transaction.
BUNDLE_ROWS = 50_000
BATCH_FILES = 256
# Files read ahead: two of any size, and more (up to 64) while they are small, as long as
# all the files read ahead come to at most READ_AHEAD_BYTES on disk. Small files then
# reach the checker together, and memory stays bounded whatever order sizes come in (a
# bound on the files' sizes, known before reading, not a guess from the files seen).
READ_AHEAD_FILES = 2
MAX_READ_AHEAD_FILES = 64
READ_AHEAD_BYTES = 8 << 20
# A file this small is read in one pass and its duplicate keys and chunks taken from
# memory; a bigger one is streamed twice (the keys, then chunk by chunk), so that memory
# stays bounded. Each pass is a Polars query costing ~5 ms however small the file.
WHOLE_FILE_BYTES = 4 << 20
# Each file loaded gets a line of its own while there are few. With hundreds (one per
# school), one line every PROGRESS_EVERY_S names the files loaded since the last: a line
# per school would bury the refusals, and in Dagster each line is an event-log write
# (~4 ms measured, a sixth of a small file's whole ingest).
LOADED_LINES = 20
PROGRESS_EVERY_S = 10.0
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
    workdir: Path | None
    chunk_rows: int
    progress: Callable[[str], None]
    # The one thread that checks chunks (Polars, Pandera, the HMAC) against the source's
    # contract, bound to the reference data, in the order submitted.
    checker: ChunkChecker

    def label(self, file: LandingFile) -> str:
        return f"{self.spec.name}/{file.name}"


def ingest_files(
    spec: SourceSpec,
    landing: Path,
    pseudonym_key: str,
    conn: duckdb.DuckDBPyConnection,
    *,
    workdir: Path | None = None,
    warehouse: Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    today: date | None = None,
    progress: Callable[[str], None] = _log.info,
) -> IngestSummary:
    """Load or refuse every new file of one source; `conn` must have no open transaction.

    `warehouse` (the DuckDB file behind `conn`): its writer lock is taken to remove working
    folders left in `workdir` by killed runs before anything is read.
    """
    _remove_stale_working_folders(workdir, warehouse, progress)
    ensure_tables(conn, spec)
    contract = spec.contract.bound(load_reference(conn, today))
    pseudonymiser = Pseudonymiser(pseudonym_key)
    files, notes = discover(landing, spec.name)
    summary = IngestSummary(spec.name, notes=notes)
    for note in notes:
        progress(note)
    with ChunkChecker(
        partial(check_chunks, spec=spec, contract=contract, pseudonymiser=pseudonymiser),
        bundle_rows=min(chunk_rows, BUNDLE_ROWS),
    ) as checker:
        run = _Run(spec, landing, conn, workdir, chunk_rows, progress, checker)
        # Files seen before (same name, size and mtime) are skipped without being read, so
        # only new ones are read ahead. Asked once, before any file: loading one file never
        # makes another file's name known.
        known = known_files(conn, spec.name)
        seen = {id(f): known.get((f.name, f.size, f.mtime_ns)) for f in files if f.regular}
        new = [f for f in files if f.regular and seen[id(f)] is None]
        report = _Report(run, len(new))

        def done(file: LandingFile, outcome: FileOutcome) -> None:
            summary.files.append(outcome)
            report.done(file, outcome)

        batch = _Batch(run, done)
        with _ReadAhead(run, new) as ahead:
            for file in files:
                _ingest_file(run, file, seen.get(id(file)), ahead, batch)
            batch.flush()
        report.finish()
    return summary


@dataclass
class _Opened:
    """A landing file copied, read and mapped to the contract, its first chunk's check under
    way: all that is done before the warehouse is touched."""

    folder: ExitStack  # the private working folder (a copy of the file: UPNs in clear)
    duplicates: pl.Series
    first: tuple[pl.DataFrame, Future[ChunkResult]] | None
    batches: Iterator[pl.DataFrame]  # the chunks after the first


@dataclass
class _Prepared:
    """A new file fingerprinted and opened, or the error either step raised (re-raised by
    `_load_prepared` where it would have been raised had the step run there)."""

    file: LandingFile
    # The fingerprint, and the log entry of the submission it identifies.
    found: tuple[Fingerprint, LogEntry] | None = None
    opened: _Opened | None = None
    error: Exception | None = None

    def opened_or_raise(self) -> _Opened:
        if self.opened is None:
            raise self.error or RuntimeError(f"{self.file.name} was not opened")
        return self.opened

    def close(self) -> None:
        if self.opened is not None:
            self.opened.folder.close()
            self.opened = None


def _prepare(run: _Run, file: LandingFile) -> _Prepared:
    """Fingerprint and open `file` without touching the warehouse; never raises."""
    prepared = _Prepared(file)
    try:
        print_ = fingerprint(file.path)
    except Exception as error:  # re-raised by _load_prepared, where fingerprinting was
        prepared.error = error
        return prepared
    entry = LogEntry(print_.submission_id, file, str(file.path), "loaded")
    prepared.found = (print_, entry)
    try:
        prepared.opened = _open(run, file, print_, entry)
    except Exception as error:  # re-raised by _load_prepared, where loading starts
        prepared.error = error
    return prepared


class _ReadAhead:
    """Prepares the next new files in a background thread while this one is written.

    A national file is a single chunk, so within a file checking and writing cannot
    overlap: the files after it are fingerprinted, read and checked while this one is
    written to DuckDB and committed. Only what does not touch the warehouse is done ahead;
    every decision (seen before? same bytes as a loaded file? refused?) and every write is
    still made by the caller's thread, file by file, in the same order and transactions as
    without reading ahead, so the warehouse ends up the same. Each file read ahead holds
    its first chunk: `READ_AHEAD_FILES` of them, and more small ones within
    `READ_AHEAD_BYTES` (see there).
    """

    def __init__(self, run: _Run, files: Sequence[LandingFile]) -> None:
        self._run = run
        self._order = list(files)
        self._position = {id(f): i for i, f in enumerate(self._order)}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imf-read-ahead")
        self._ahead: deque[tuple[LandingFile, Future[_Prepared]]] = deque()

    def __enter__(self) -> _ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self._discard()
        self._pool.shutdown()

    def take(self, file: LandingFile) -> _Prepared:
        """`file` prepared (waiting for it, or preparing it now); the next ones started."""
        if self._ahead and self._ahead[0][0] is file:
            prepared = self._ahead.popleft()[1].result()
        else:
            self._discard()
            prepared = _prepare(self._run, file)
        position = self._position.get(id(file))
        if position is not None:
            budget = READ_AHEAD_BYTES - sum(f.size for f, _ in self._ahead)
            queued = len(self._ahead)
            following = self._order[position + 1 + queued:position + 1 + MAX_READ_AHEAD_FILES]
            for place, next_file in enumerate(following, start=queued):
                if place >= READ_AHEAD_FILES and next_file.size > budget:
                    break
                budget -= next_file.size
                self._ahead.append((next_file, self._pool.submit(_prepare, self._run,
                                                                 next_file)))
        return prepared

    def _discard(self) -> None:
        while self._ahead:
            self._ahead.popleft()[1].result().close()


def _remove_stale_working_folders(workdir: Path | None, warehouse: Path | None,
                                  progress: Callable[[str], None]) -> None:
    """Delete `imf-ingest-*` folders of killed runs: copies of landing files (UPNs in clear).

    Done holding the warehouse writer lock (re-entrant: the CLI and the Dagster resource
    already hold it), so no other run of this warehouse is ingesting; folders still locked
    by a live process are never touched either way.
    """
    try:
        if warehouse is None:
            removed = remove_stale(workdir)
        else:
            with writer_lock(warehouse, timeout_s=0):
                removed = remove_stale(workdir)
    except WarehouseBusy:
        return  # another run is writing: it (or the next run) cleans up
    if removed:
        progress(f"removed {len(removed)} working folder(s) left by an interrupted run")


def _describe(run: _Run, file: LandingFile, outcome: FileOutcome) -> str:
    if outcome.status == "refused":
        return f"✗ {run.label(file)} refused: {outcome.reason}"
    return (f"✓ {run.label(file)}: {outcome.rows_read} rows read, {outcome.rows_loaded} "
            f"loaded, {outcome.rows_quarantined} quarantined")


class _Report:
    """Tells `run.progress` each refusal, and each file loaded while there are few; after
    `LOADED_LINES` of them, one line every `PROGRESS_EVERY_S` names the files loaded
    since the last (every file is still named in the run's log), and a last line sums
    what the files loaded held."""

    def __init__(self, run: _Run, new_files: int) -> None:
        self._run = run
        self._new_files = new_files
        self._loaded = self._read = self._kept = self._quarantined = 0
        self._waiting: list[FileOutcome] = []
        self._said_at = time.monotonic()

    def done(self, file: LandingFile, outcome: FileOutcome) -> None:
        if outcome.status == "refused":
            self._run.progress(_describe(self._run, file, outcome))
        if outcome.status != "loaded":
            return
        self._loaded += 1
        self._read += outcome.rows_read
        self._kept += outcome.rows_loaded
        self._quarantined += outcome.rows_quarantined
        if self._loaded <= LOADED_LINES:
            self._run.progress(_describe(self._run, file, outcome))
            return
        self._waiting.append(outcome)
        if time.monotonic() - self._said_at >= PROGRESS_EVERY_S:
            self._say_waiting()

    def finish(self) -> None:
        if self._loaded <= LOADED_LINES:
            return
        self._say_waiting()
        self._run.progress(
            f"✓ {self._run.spec.name}: {self._loaded:,} files loaded: {self._read:,} rows "
            f"read, {self._kept:,} loaded, {self._quarantined:,} quarantined")

    def _say_waiting(self) -> None:
        if self._waiting:
            files = ", ".join(
                f"{self._run.spec.name}/{f.file_name} ({f.rows_read:,} rows"
                + (f", {f.rows_quarantined:,} quarantined)" if f.rows_quarantined else ")")
                for f in self._waiting)
            said = LoadedLine(self._run.spec.name, len(self._waiting), self._loaded,
                              self._new_files)
            self._run.progress(f"{said}: {files}")
            self._waiting = []
        self._said_at = time.monotonic()


@dataclass
class _Settled:
    """A small file read whole, waiting to be written: its one chunk (if it has rows) and
    the chunk's check, waited for only when the batch is written, so that the checker can
    check many such chunks in one go."""

    entry: LogEntry
    first: tuple[pl.DataFrame, Future[ChunkResult]] | None
    result: ChunkResult | None = None  # once checked
    error: Exception | None = None  # the check's, if it raised

    def settle(self) -> None:
        if self.first is not None:
            try:
                self.result = _tally(self.entry, *self.first)
            except Exception as error:  # refused, or raised again, once the rest are written
                self.error = error
            self.first = None  # the chunk as read (UPNs in clear) is not kept

    @property
    def units(self) -> pl.DataFrame | None:
        return None if self.result is None else self.result.units


class _Batch:
    """Small files written together: one transaction and one statement per table for up to
    `BUNDLE_ROWS` rows or `BATCH_FILES` files.

    With one file per school, each file's own transaction (a statement per table, the
    supersession check, the commit) was most of its ingest: ~24 ms a file (docs/
    scaling.md). Every decision about a file (seen before? the same bytes as another?
    refused? changed while read?) is still made file by file, and each file gets the rows
    it would get in a transaction of its own, so the warehouse ends up the same. Anything
    else written (a refusal, a duplicate's name, a bigger file) first commits the batch,
    so files are committed in their order; only a file whose check raises is refused after
    the rest of its batch is committed. A killed run loses only the batch not yet
    committed: those files are not in `landing_files`, so the next run reads them again.
    Outcomes are passed on in file order, a loaded file's once it is committed.
    """

    def __init__(self, run: _Run, done: Callable[[LandingFile, FileOutcome], None]) -> None:
        self._run = run
        self._done = done
        self._files: list[_Settled] = []
        self._rows = 0
        # Every outcome from the first file waiting on (a waiting file's is its _Settled).
        self._outcomes: list[tuple[LandingFile, FileOutcome | _Settled]] = []

    def __contains__(self, submission_id: str) -> bool:
        return any(f.entry.submission_id == submission_id for f in self._files)

    def done(self, file: LandingFile, outcome: FileOutcome) -> None:
        if self._files:
            self._outcomes.append((file, outcome))
        else:
            self._done(file, outcome)

    def add(self, settled: _Settled) -> None:
        self._files.append(settled)
        self._rows += 0 if settled.first is None else settled.first[0].height
        self._outcomes.append((settled.entry.file, settled))
        if self._rows >= BUNDLE_ROWS or len(self._files) >= BATCH_FILES:
            self.flush()

    def flush(self) -> None:
        """Write and commit the files waiting, then pass on the outcomes held."""
        if self._files:
            for waiting in self._files:
                waiting.settle()
            checked = [f for f in self._files if f.error is None]
            conn = self._run.conn
            conn.begin()
            try:
                write_chunks(conn, self._run.spec, [(f.entry.submission_id, f.result)
                                                    for f in checked if f.result])
                _record_loaded(self._run, [(f.entry, f.units) for f in checked])
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            self._files, self._rows = [], 0
        outcomes, self._outcomes = self._outcomes, []
        for file, outcome in outcomes:
            if isinstance(outcome, _Settled):
                outcome = _loaded(outcome.entry, outcome.units) if outcome.error is None \
                    else _failed(self._run, file, outcome.entry, outcome.error)
            self._done(file, outcome)


def _ingest_file(run: _Run, file: LandingFile, seen: str | None, ahead: _ReadAhead,
                 batch: _Batch) -> None:
    """`seen`: the submission id of the file if it was seen before (`known_files`). The
    outcome goes to `batch.done`, at once or (a small file loaded) once it is committed."""
    if not file.regular:
        batch.flush()
        token = f"{file.source}/{file.name}:{file.mtime_ns}".encode()
        batch.done(file, _refuse(
            run, file, hashlib.sha256(b"not-a-regular-file:" + token).hexdigest(),
            FileRefused("unsafe_path", "it is a link, folder or device, not a regular file. "
                        "Copy the file itself into the folder.")))
        return
    if seen is not None:
        if logged_status(run.conn, seen) == "refused":  # a crash came between log and move
            _move_refused(run, file, seen)
        batch.done(file, FileOutcome(file.name, seen, "unchanged"))
        return
    prepared = ahead.take(file)
    try:
        outcome = _load_prepared(run, file, prepared, batch)
    finally:
        prepared.close()  # the working folder is removed however the file ends
    if outcome is not None:
        batch.done(file, outcome)


def _load_prepared(run: _Run, file: LandingFile, prepared: _Prepared,
                   batch: _Batch) -> FileOutcome | None:
    """The file's outcome, or None when it joined `batch` (see there)."""
    conn = run.conn
    if prepared.found is None:
        error = prepared.error
        if not isinstance(error, OSError) or not (_is_unsafe(error) or _vanished(error, file)):
            raise error or RuntimeError(f"{file.name} was not fingerprinted")
        batch.flush()
        return _unreadable(run, file, error)
    print_, entry = prepared.found
    if print_.submission_id in batch:
        batch.flush()  # so that it is found below: same bytes as a file just loaded
    earlier = logged_status(conn, print_.submission_id)
    if earlier is not None:
        batch.flush()
        conn.begin()
        remember_files(conn, [(file, print_.submission_id)])
        conn.commit()
        if earlier == "refused":
            _move_refused(run, file, print_.submission_id)
        run.progress(f"= {run.label(file)}: same bytes as an earlier submission, not loaded again")
        return FileOutcome(file.name, print_.submission_id, "duplicate")
    try:
        opened = prepared.opened_or_raise()
        if _small(opened):
            if not unchanged(file):
                return _changing(run, file, entry)
            batch.add(_Settled(entry, opened.first))
            return None
    except Exception as error:
        batch.flush()
        return _failed(run, file, entry, error)
    batch.flush()
    conn.begin()
    try:
        units = _load(run, opened, entry)
        if not unchanged(file):
            conn.rollback()
            return _changing(run, file, entry)
        _record_loaded(run, [(entry, units)])
        conn.commit()
    except Exception as error:
        conn.rollback()
        return _failed(run, file, entry, error)
    except BaseException:
        conn.rollback()
        raise
    return _loaded(entry, units)


def _small(opened: _Opened) -> bool:
    """Whether the file is at most one chunk, of fewer than `BUNDLE_ROWS` rows (reading
    on to find out; a next chunk, if any, is put back)."""
    if opened.first is not None and opened.first[0].height >= BUNDLE_ROWS:
        return False
    following = next(opened.batches, None)
    if following is None:
        return True
    opened.batches = itertools.chain([following], opened.batches)
    return False


def _failed(run: _Run, file: LandingFile, entry: LogEntry, error: Exception) -> FileOutcome:
    """The outcome of a file whose reading failed part-way, or `error` raised again when it
    is not the file's doing. Nothing of the file may be in an open transaction."""
    if isinstance(error, FileRefused):
        return _refuse(run, file, entry.submission_id, error, entry)
    if isinstance(error, FileChanged):
        return _changing(run, file, entry)
    if isinstance(error, OSError):
        if not (_is_unsafe(error) or _vanished(error, file)):
            raise error
        # Swapped for a link (or a FIFO, or removed) after it was fingerprinted.
        return _unreadable(run, file, error, entry)
    if isinstance(error, (pl.exceptions.PolarsError, UnicodeError)):
        # Malformed text found part-way through (e.g. an unterminated quote).
        return _refuse(run, file, entry.submission_id, FileRefused(
            "unreadable_file",
            # Only the error's type: Polars messages can quote the file's content (a UPN).
            f"it could not be read as CSV ({type(error).__name__}). "
            "Check it opens in Excel, save it as CSV UTF-8 and send it again.",
        ), entry)
    raise error


def _changing(run: _Run, file: LandingFile, entry: LogEntry) -> FileOutcome:
    run.progress(f"… {run.label(file)} changed while being read: it will be read on the "
                 "next run")
    return FileOutcome(file.name, entry.submission_id, "changing")


def _loaded(entry: LogEntry, units: pl.DataFrame | None) -> FileOutcome:
    years = [] if units is None else sorted(
        units.get_column("academic_year").unique().to_list())
    return FileOutcome(entry.file.name, entry.submission_id, "loaded", entry.reason, None,
                       entry.rows_read, entry.rows_loaded, entry.rows_quarantined, years)


def _record_loaded(run: _Run, loaded: Sequence[tuple[LogEntry, pl.DataFrame | None]]) -> None:
    """Log files whose rows are written (each with the units its rows cover, if any),
    remember them, and rank their schools' units again."""
    write_units(run.conn, run.spec, [(entry.submission_id, units)
                                     for entry, units in loaded if units is not None])
    write_log(run.conn, [entry for entry, _ in loaded])
    remember_files(run.conn, [(entry.file, entry.submission_id) for entry, _ in loaded])
    update_current(run.conn, run.spec.name, [entry.submission_id for entry, _ in loaded])


def _is_unsafe(error: OSError) -> bool:
    return isinstance(error, UnsafePath) or error.errno in (errno.ELOOP, errno.EMLINK)


def _vanished(error: OSError, file: LandingFile) -> bool:
    return isinstance(error, FileNotFoundError) and not os.path.lexists(file.path)


def _unreadable(run: _Run, file: LandingFile, error: OSError,
                entry: LogEntry | None = None) -> FileOutcome:
    """A file swapped for a link (or removed) after discovery: that file only is refused
    (or skipped); the others of the source still load. Other OS errors (a full disk, ...)
    are not the file's fault and are raised."""
    # Not the content's id: what was read is not what will be there if it is sent again.
    token = f"{file.source}/{file.name}:{file.mtime_ns}".encode()
    submission_id = hashlib.sha256(b"unsafe-path:" + token).hexdigest()
    if _vanished(error, file):
        run.progress(f"… {run.label(file)} disappeared while being read: skipped")
        return FileOutcome(file.name, submission_id, "changing")
    if not _is_unsafe(error):
        raise error
    return _refuse(run, file, submission_id, FileRefused(
        "unsafe_path", "it was replaced by a link, folder or device while being read, and "
        "links are not followed. Copy the file itself into the folder."), entry)


def _move_refused(run: _Run, file: LandingFile, submission_id: str) -> Path | None:
    """Move a refused file to the refused area; None (file kept in place) if unsafe."""
    try:
        return move_to_refused(file, run.landing, submission_id)
    except FileNotFoundError:
        return None  # already moved, or removed by the sender
    except OSError as error:
        kind = ("is a link or not a folder" if isinstance(error, UnsafePath)
                else f"could not be written ({errno.errorcode.get(error.errno or 0, 'error')})")
        note = (f"kept in {file.source}/, not moved: the refused area _refused/{file.source}/ "
                f"{kind}, and refused files are only moved within the landing area")
        run.progress(f"! {run.label(file)} {note}")
        run.conn.execute(
            "UPDATE audit.submission_log SET reason = reason || ? WHERE submission_id = ? "
            "AND status = 'refused' AND NOT contains(reason, ?)",
            [f" (File {note}.)", submission_id, note])
        return None


def _refuse(run: _Run, file: LandingFile, submission_id: str, refusal: FileRefused,
            entry: LogEntry | None = None) -> FileOutcome:
    reason = f"{run.label(file)} was not loaded: {refusal.message}"
    target = run.landing / "_refused" / file.source / file.name
    run.conn.begin()
    write_log(run.conn, [LogEntry(
        submission_id, file, str(target), "refused",
        file_format=entry.file_format if entry else None,
        encoding=entry.encoding if entry else None,
        reason=reason, refusal_kind=refusal.kind,
    )])
    remember_files(run.conn, [(file, submission_id)])
    run.conn.commit()
    # Logged first, moved second: if the move never happens, the next run repeats it.
    moved = _move_refused(run, file, submission_id)
    if moved != target:
        run.conn.execute(
            "UPDATE audit.submission_log SET landing_path = ? WHERE submission_id = ? "
            "AND status = 'refused'", [str(moved or file.path), submission_id])
    return FileOutcome(file.name, submission_id, "refused", reason, refusal.kind)


def _read(run: _Run, file: LandingFile, head: bytes, utf8: bool, has_nul: bool,
          entry: LogEntry, tmp: Path) -> Table:
    entry.file_format = sniff_format(file.name, head, file.size)
    if entry.file_format == "xlsx":
        return read_xlsx(file.path, tmp, entry.submission_id)
    entry.encoding = detect_encoding(file.path, head, utf8, has_nul)
    return read_csv(file.path, entry.encoding, tmp, entry.submission_id)


def _open(run: _Run, file: LandingFile, print_: Fingerprint, entry: LogEntry) -> _Opened:
    """Copy, read and map the file, and start checking its first chunk; fills `entry`'s
    format, encoding and notes. Touches no warehouse table (it may run ahead: _ReadAhead)."""
    spec = run.spec
    folder = ExitStack()
    try:
        tmp = folder.enter_context(working_folder(run.workdir))
        table = _read(run, file, print_.head, print_.utf8, print_.has_nul, entry, tmp)
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
            .filter(any_value([*spec.column_names, OVERFLOW]))
        )
        batches: Iterator[pl.DataFrame]
        if file.size <= WHOLE_FILE_BYTES:
            whole = body.collect()
            duplicates = duplicate_rows(whole.select(ROW, *spec.duplicate_key), spec)
            batches = whole.iter_slices(run.chunk_rows)
        else:  # streamed twice, memory bounded: the duplicate keys, then chunk by chunk
            duplicates = duplicate_rows(
                body.select(ROW, *spec.duplicate_key).collect(), spec
            ) if spec.duplicate_key else pl.Series(ROW, [], dtype=pl.Int64)
            batches = iter(body.collect_batches(chunk_size=run.chunk_rows))
        chunk = next(batches, None)
        first = None if chunk is None else (chunk, _check(run, chunk, duplicates))
        return _Opened(folder, duplicates, first, batches)
    except BaseException:
        folder.close()
        raise


def _check(run: _Run, chunk: pl.DataFrame, duplicates: pl.Series) -> Future[ChunkResult]:
    return run.checker.submit(chunk, duplicates)


def _tally(entry: LogEntry, chunk: pl.DataFrame, checked: Future[ChunkResult]) -> ChunkResult:
    """The chunk's check, waited for, counted in `entry`."""
    result = checked.result()
    entry.rows_read += chunk.height
    entry.rows_loaded += result.good.height
    entry.rows_quarantined += result.bad_rows.height
    return result


def _load(run: _Run, opened: _Opened, entry: LogEntry) -> pl.DataFrame | None:
    """Check and write one opened file's rows; fills `entry`; returns the units they cover
    and the good rows of each (None if the file has no rows)."""
    spec = run.spec
    units: list[pl.DataFrame] = []

    def write(chunk: pl.DataFrame, checked: Future[ChunkResult]) -> None:
        result = _tally(entry, chunk, checked)
        write_chunks(run.conn, spec, [(entry.submission_id, result)])
        units.append(result.units)

    # A chunk is checked (Polars, Pandera, the HMAC) in the checker thread while this one
    # writes the chunk before it to DuckDB and reads the next: both libraries release the
    # GIL, so the two cores overlap. Chunks are written in order, by this thread only, and
    # at most two of a file are held at once, so memory stays bounded.
    pending = opened.first
    for chunk in opened.batches:
        checking = _check(run, chunk, opened.duplicates)
        if pending is not None:
            write(*pending)
        pending = (chunk, checking)
    if pending is not None:
        write(*pending)
    if not units:
        return None
    return units[0] if len(units) == 1 else (
        pl.concat(units).group_by(list(spec.unit_keys)).agg(pl.col("rows_loaded").sum()))
