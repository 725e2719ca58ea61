"""Writing landing files deterministically and recording them for the manifest.

Modification times are a fixed base plus one second per file in the order written, so
"the later submission" (the contract's tie-break for resubmissions) is well defined and
repeat runs are identical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

BASE_MTIME = int(dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp())
SOURCES = ("spend", "allocations", "outcomes", "voice")
_XLSX_CREATED = dt.datetime(2026, 10, 1)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class LandingWriter:
    """Writes into out/<source>/ and keeps the list of files written."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.files: list[dict[str, Any]] = []
        for source in SOURCES:
            folder = out / source
            if folder.exists() and any(folder.iterdir()):
                raise FileExistsError(
                    f"{folder} already holds files: generate into an empty landing folder "
                    "(old and new synthetic files would be read as one landing area)"
                )
            folder.mkdir(parents=True, exist_ok=True)

    def _finish(self, rel: str, rows: int | None, fmt: str, encoding: str | None,
                **extra: Any) -> dict[str, Any]:
        path = self.out / rel
        mtime = BASE_MTIME + len(self.files)
        os.utime(path, (mtime, mtime))
        entry: dict[str, Any] = {"path": rel, "source": rel.split("/")[0], "format": fmt,
                                 "encoding": encoding, "rows": rows, "mtime": mtime,
                                 "bytes": path.stat().st_size, "sha256": _sha256(path), **extra}
        self.files.append(entry)
        return entry

    def csv(self, rel: str, frame: pl.DataFrame, encoding: str = "utf-8",
            **extra: Any) -> dict[str, Any]:
        """A comma-separated file with a header row; nulls as empty cells."""
        path = self.out / rel
        if encoding == "utf-8":
            frame.write_csv(path)
        else:
            path.write_bytes(frame.write_csv().encode(encoding))
        return self._finish(rel, frame.height, "csv", encoding, **extra)

    def xlsx(self, rel: str, frame: pl.DataFrame, **extra: Any) -> dict[str, Any]:
        """First-sheet workbook with typed cells (numbers, dates, text), as Excel saves it."""
        path = self.out / rel
        book = xlsxwriter.Workbook(str(path))
        book.set_properties({"created": _XLSX_CREATED})  # fixed, so the bytes are stable
        sheet = book.add_worksheet("Sheet1")
        date_fmt = book.add_format({"num_format": "dd/mm/yyyy"})
        sheet.write_row(0, 0, frame.columns)
        for r, row in enumerate(frame.iter_rows(), start=1):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.date):
                    sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
                else:
                    sheet.write(r, c, value)
        book.close()
        return self._finish(rel, frame.height, "xlsx", None, **extra)

    def raw(self, rel: str, data: bytes, fmt: str, rows: int | None = None,
            **extra: Any) -> dict[str, Any]:
        (self.out / rel).write_bytes(data)
        return self._finish(rel, rows, fmt, None, **extra)
