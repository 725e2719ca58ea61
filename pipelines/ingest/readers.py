"""Readers: a landing file as a header plus a lazy frame of text cells with row numbers.

Everything is read as text (types come later, from the contract), and rows are numbered
as a spreadsheet shows them: header = 1, first data row = 2. CSVs are scanned lazily so a
national file is processed in chunks; Windows-1252 files are first transcoded to a
temporary UTF-8 copy (Polars reads UTF-8 only). Workbooks are checked against zip bombs
before anything is unpacked, and only the first sheet's cached cell values are read:
formulas are never evaluated.
"""

from __future__ import annotations

import codecs
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl

from pipelines.ingest.files import open_landing_file
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


def read_csv(path: Path, encoding: str, workdir: Path) -> Table:
    source = path
    if encoding == "cp1252":
        source = workdir / "transcoded.csv"
        _transcode(path, source, encoding)
    else:
        # Read a private copy: the landing file may change or be swapped after hashing.
        source = workdir / "copy.csv"
        with open_landing_file(path) as src, source.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
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


def read_xlsx(path: Path, workdir: Path) -> Table:
    copy = workdir / "copy.xlsx"
    with open_landing_file(path) as src, copy.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
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


def _transcode(path: Path, target: Path, encoding: str) -> None:
    decoder = codecs.getincrementaldecoder(encoding)()
    with open_landing_file(path) as src, target.open("w", encoding="utf-8") as dst:
        while chunk := src.read(1 << 20):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))


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
