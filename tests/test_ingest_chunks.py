"""A file is checked and written chunk by chunk (the next chunk is checked in a second
thread while the one before is written): the result must not depend on the chunk size.

Ten outcome rows, three of them bad: row 3 has an unknown SEN code, row 6 attends more
sessions than were possible, and rows 4 and 9 are the same pupil twice (a duplicate
that straddles chunks when they are three rows long). By hand: 10 read, 6 loaded, 4
quarantined (both copies of the duplicate), whatever the chunk size. Row numbers are the
file's line numbers, the header being line 1.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ImfEnv
from ingest.fixtures import ref_template, wh  # noqa: F401
from ingest.support import csv_bytes, ingest, query, row, upn, write

ROWS = [row("outcomes", upn=upn(n)) for n in range(1, 11)]
ROWS[2] = row("outcomes", upn=upn(3), sen_provision="X")
ROWS[5] = row("outcomes", upn=upn(6), sessions_attended="400")
ROWS[8] = row("outcomes", upn=upn(4))  # the pupil of row 4 again

RAW = "SELECT * EXCLUDE (submission_id) FROM raw.outcomes ORDER BY row_number"
REASONS = "SELECT row_number, column_name, rule FROM audit.quarantine ORDER BY ALL"
COUNTS = "SELECT rows_read, rows_loaded, rows_quarantined FROM audit.submission_log"
UNITS = "SELECT urn, academic_year, rows_loaded FROM audit.submission_units ORDER BY ALL"


def _load(imf_env: ImfEnv, warehouse: Path, chunk_rows: int) -> dict[str, list[tuple]]:
    ingest("outcomes", warehouse, chunk_rows=chunk_rows)
    return {name: query(warehouse, sql) for name, sql in
            (("raw", RAW), ("reasons", REASONS), ("counts", COUNTS), ("units", UNITS))}


@pytest.mark.parametrize("chunk_rows", [1, 3, 4])
def test_chunk_size_does_not_change_what_is_loaded(
        imf_env: ImfEnv, wh: Path, ref_template: Path, chunk_rows: int) -> None:  # noqa: F811
    write(imf_env.landing, "outcomes", "school.csv", csv_bytes(ROWS))
    whole = _load(imf_env, wh, chunk_rows=1_000)
    assert whole["counts"] == [(10, 6, 4)]
    assert {r[0] for r in whole["reasons"]} == {4, 5, 7, 10}
    assert [r[0] for r in whole["raw"]] == [2, 3, 6, 8, 9, 11]

    chunked = wh.with_name(f"chunked_{chunk_rows}.duckdb")
    shutil.copyfile(ref_template, chunked)
    assert _load(imf_env, chunked, chunk_rows=chunk_rows) == whole
