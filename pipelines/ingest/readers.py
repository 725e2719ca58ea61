"""Readers: a landing file as a header plus a lazy frame of text cells with row numbers.

Everything is read as text (types come later, from the contract), and rows are numbered
as a spreadsheet shows them: header = 1, first data row = 2. CSVs are scanned lazily so a
national file is processed in chunks. Files are read from a private copy in the caller's
working folder (Windows-1252 transcoded to UTF-8: Polars reads UTF-8 only), checked against
the fingerprint's hash as it is made. Workbooks are checked against zip bombs
before anything is unpacked, and only the first sheet's cached cell values are read:
formulas are never evaluated.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl

from pipelines.ingest.files import FileChanged, open_landing_file
from pipelines.ingest.parsers import ROW
from pipelines.ingest.rules import FileRefused

# A 1,048,576-row sheet of this contract's width unpacks to well under this.
MAX_XLSX_UNPACKED_BYTES = 1 << 30
MAX_XLSX_ENTRIES = 10_000
OVERFLOW = "_overflow"


@dataclass
class Table:
    header: list[str | None]
    body: pl.LazyFrame  # row_number, c0..c{n-1}, and OVERFLOW for CSV rows wider than the header
    notes: list[str] = field(default_factory=list)


def cell_column(i: int) -> str:
    return f"c{i}"


def read_csv(path: Path, encoding: str, workdir: Path,
             expected_sha256: str | None = None) -> Table:
    """`workdir` must be private and removed after use (it gets a copy of the file).

    The reader reads a private copy, never the landing file: the landing file may change or
    be swapped after hashing. The copy is hashed as it is made, and if `expected_sha256` is
    given and differs, FileChanged is raised (the bytes are not the submission's).
    """
    source = workdir / ("transcoded.csv" if encoding == "cp1252" else "copy.csv")
    _copy(path, source, expected_sha256, encoding if encoding == "cp1252" else None)
    try:
        first = pl.read_csv(
            source, has_header=False, infer_schema=False, n_rows=1,
            truncate_ragged_lines=True, raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as error:
        # Only the error's type: Polars messages can quote the file's content (a UPN).
        raise FileRefused("unreadable_file", f"it could not be read as CSV "
                          f"({type(error).__name__}).") from None
    if first.height == 0:
        raise FileRefused("empty_file", "it has no header row. Add the column names as the "
                          "first row and send the file again.")
    header: list[str | None] = list(first.row(0))
    width = len(header)
    schema = {cell_column(i): pl.String for i in range(width)} | {OVERFLOW: pl.String}
    body = (
        pl.scan_csv(
            source, has_header=False, infer_schema=False, schema=schema,
            missing_columns="insert", truncate_ragged_lines=True, raise_if_empty=False,
        )
        .with_row_index(ROW, offset=1)
        .filter(pl.col(ROW) > 1)
        .with_columns(pl.col(ROW).cast(pl.Int64))
    )
    return Table(header, body)


def read_xlsx(path: Path, workdir: Path, expected_sha256: str | None = None) -> Table:
    """As read_csv: reads a private, hash-checked copy in `workdir`."""
    copy = workdir / "copy.xlsx"
    _copy(path, copy, expected_sha256)
    _guard_zip(copy)
    try:
        reader = fastexcel.read_excel(str(copy))
        sheet_names = reader.sheet_names
        frame = reader.load_sheet(0, header_row=None, dtypes="string").to_polars()
    except Exception as error:  # fastexcel raises its own error types per failure
        raise FileRefused(
            "unreadable_file",
            f"it could not be read as an Excel workbook ({type(error).__name__}). Open it "
            "in Excel, save it as 'Excel Workbook (.xlsx)' and send it again.",
        ) from None
    if frame.height == 0:
        raise FileRefused("empty_file", "its first sheet is empty. Put the column names in "
                          "row 1 of the first sheet and send the file again.")
    frame = frame.rename({old: cell_column(i) for i, old in enumerate(frame.columns)})
    # Date cells come back as 'YYYY-MM-DD 00:00:00'; the date is what the sender typed.
    frame = frame.with_columns(pl.all().str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "$1"))
    header: list[str | None] = list(frame.row(0))
    notes = []
    if len(sheet_names) > 1:
        notes.append(
            f"only the first sheet '{sheet_names[0]}' was read; other sheets were ignored: "
            + ", ".join(f"'{name}'" for name in sheet_names[1:])
        )
    body = (
        frame.lazy()
        .with_row_index(ROW, offset=1)
        .filter(pl.col(ROW) > 1)
        .with_columns(pl.col(ROW).cast(pl.Int64), pl.lit(None, pl.String).alias(OVERFLOW))
    )
    return Table(header, body, notes)


def _copy(path: Path, target: Path, expected_sha256: str | None,
          transcode_from: str | None = None) -> None:
    """Copy (or transcode to UTF-8) the landing file, checking the bytes read are the ones
    fingerprinted."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(transcode_from)() if transcode_from else None
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open_landing_file(path) as src, os.fdopen(fd, "wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk if decoder is None else decoder.decode(chunk).encode("utf-8"))
        if decoder is not None:
            dst.write(decoder.decode(b"", final=True).encode("utf-8"))
    if expected_sha256 is not None and digest.hexdigest() != expected_sha256:
        raise FileChanged(str(path))


def _guard_zip(path: Path) -> None:
    """Refuse workbooks that unpack to more than the limit, counting real bytes.

    The sizes in a zip's directory can lie, so entries are decompressed (streamed, nothing
    kept) and counted, stopping as soon as the limit is passed.
    """
    too_large = FileRefused(
        "too_large",
        f"the workbook unpacks to more than {MAX_XLSX_UNPACKED_BYTES >> 20} MB. Split it "
        "into smaller files, or save it as CSV, and send it again.",
    )
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_XLSX_ENTRIES:
                raise too_large
            if sum(e.file_size for e in entries) > MAX_XLSX_UNPACKED_BYTES:
                raise too_large
            total = 0
            for entry in entries:
                with archive.open(entry) as member:
                    while chunk := member.read(1 << 20):
                        total += len(chunk)
                        if total > MAX_XLSX_UNPACKED_BYTES:
                            raise too_large
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            OSError) as error:
        raise FileRefused(
            "unreadable_file",
            f"it is not a readable Excel workbook ({type(error).__name__}). Open it in "
            "Excel, save it as 'Excel Workbook (.xlsx)' and send it again.",
        ) from None
