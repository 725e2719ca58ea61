"""Helpers for the ingest tests: valid rows per source, file writers, a warehouse with `ref`."""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path

import duckdb
import xlsxwriter
from stdnum.gb.upn import calc_check_digit

from pipelines.ingest.pipeline import IngestSummary
from pipelines.settings import ImfSettings
from pipelines.sources.specs import ingest_source

TODAY = date(2026, 11, 1)  # "not in the future" is judged against this in tests
URN = 100000  # The Aldgate School, in the register
URN_2 = 100032
# A school that converted: 100016 -> successor 132245 in seeds/gias_links.csv
PREDECESSOR_URN = 100016


def upn(serial: int, la: int = 940) -> str:
    """A valid UPN (check letter by python-stdnum's algorithm); LA 940 is post-2011."""
    body = f"{la:03d}{2024 % 100:02d}{serial:07d}"
    return calc_check_digit(body) + body


VALID: dict[str, dict[str, str]] = {
    "spend": {
        "urn": str(URN), "academic_year": "2025/26", "term": "autumn",
        "category": "staff_development", "amount_gbp": "1250.50", "description": "training",
    },
    "allocations": {"urn": str(URN), "academic_year": "2025/26", "allocation_gbp": "50000"},
    "outcomes": {
        "urn": str(URN), "academic_year": "2025/26", "upn": upn(1), "year_group": "11",
        "sen_provision": "K", "primary_need": "SEMH", "first_identified_year_group": "7",
        "sessions_possible": "380", "sessions_attended": "350", "base_sessions": "20",
        "suspensions": "1", "permanently_excluded": "N", "plan_targets_set": "4",
        "plan_targets_met": "3", "plan_reviewed_on": "2026-03-10", "left_roll": "Y",
        "leaving_reason": "end_of_phase", "destination": "education",
        "destination_sustained": "Y", "met_expected_standard": "N",
    },
    "voice": {
        "urn": str(URN), "academic_year": "2025/26", "respondent_id": "R-0001",
        "respondent_type": "pupil", "sen_provision": "K", "year_group": "8",
        "question_code": "P_BEL_1", "response": "4", "collected_on": "2026-05-12",
    },
}


def row(source: str, **changes: str | None) -> dict[str, str]:
    base = dict(VALID[source])
    for key, value in changes.items():
        base[key] = "" if value is None else value
    return base


def csv_bytes(rows: Iterable[Mapping[str, str]], header: list[str] | None = None,
              encoding: str = "utf-8") -> bytes:
    rows = list(rows)
    header = header or list(rows[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    return buffer.getvalue().encode(encoding)


def write(landing: Path, source: str, name: str, data: bytes, mtime: float | None = None) -> Path:
    path = landing / source / name
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def xlsx_bytes(rows: Sequence[Sequence[object]], extra_sheet: bool = False) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Data")
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            if value is not None:
                sheet.write(r, c, value)
    if extra_sheet:
        book.add_worksheet("Notes").write(0, 0, "ignore me")
    book.close()
    return buffer.getvalue()


def copy_template(template: Path, target: Path) -> None:
    shutil.copyfile(template, target)


def settings() -> ImfSettings:
    return ImfSettings.from_env()


def ingest(source: str, warehouse: Path, **kwargs: object) -> IngestSummary:
    with duckdb.connect(str(warehouse)) as conn:
        return ingest_source(source, settings(), conn, today=TODAY, **kwargs)  # type: ignore[arg-type]


def query(warehouse: Path, sql: str, params: list[object] | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse)) as conn:
        return conn.execute(sql, params or []).fetchall()


def rules_for(warehouse: Path, source: str) -> set[tuple[int, str, str]]:
    """(row_number, column_name, rule) of every quarantine reason of a source."""
    return {(r, c, rule) for r, c, rule in query(
        warehouse, "SELECT row_number, column_name, rule FROM audit.quarantine WHERE source = ?",
        [source])}


# What an outcomes ingest leaves in the warehouse, without the times it was written (they
# differ between runs): to show two ways of ingesting the same files end up the same.
OUTCOMES_CONTENTS = {
    "raw": "SELECT l.file_name, r.* EXCLUDE (submission_id) FROM raw.outcomes r "
           "JOIN audit.submission_log l USING (submission_id) ORDER BY ALL",
    "quarantine": "SELECT l.file_name, q.row_number, q.column_name, q.rule, q.value "
                  "FROM audit.quarantine q JOIN audit.submission_log l USING (submission_id) "
                  "ORDER BY ALL",
    "quarantine_rows": "SELECT l.file_name, q.row_number, q.row_json "
                       "FROM audit.quarantine_rows q "
                       "JOIN audit.submission_log l USING (submission_id) ORDER BY ALL",
    "log": "SELECT file_name, status, refusal_kind, rows_read, rows_loaded, rows_quarantined, "
           "submission_id FROM audit.submission_log ORDER BY ALL",
    "units": "SELECT l.file_name, u.urn, u.academic_year, u.rows_loaded, u.is_current, "
             "s.file_name FROM audit.submission_units u "
             "JOIN audit.submission_log l USING (submission_id) "
             "LEFT JOIN audit.submission_log s ON s.submission_id = u.superseded_by "
             "ORDER BY ALL",
    "seen": "SELECT file_name, submission_id FROM audit.landing_files ORDER BY ALL",
}


def contents(warehouse: Path) -> dict[str, list[tuple]]:
    return {name: query(warehouse, sql) for name, sql in OUTCOMES_CONTENTS.items()}
