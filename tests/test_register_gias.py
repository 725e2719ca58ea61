"""The GIAS importer reads a real-format edubasealldata extract into the register's columns."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl

from pipelines.reference.register import REGISTER_COLUMNS, import_gias_extract
from pipelines.settings import SEEDS_DIR

GIAS_HEADER = [
    "URN", "LA (code)", "LA (name)", "EstablishmentNumber", "EstablishmentName",
    "TypeOfEstablishment (name)", "EstablishmentStatus (name)", "PhaseOfEducation (name)",
    "NumberOfPupils", "Trusts (name)", "GOR (code)", "GOR (name)",
    "DistrictAdministrative (code)", "AdministrativeWard (code)",
]
ROWS = [
    ["150001", "202", "Camden", "2001", "École Saint-Éloi Primary", "Voluntary aided school",
     "Open", "Primary", "210", "", "H", "London", "E09000007", "E05013652"],
    ["150002", "202", "Camden", "4001", "Camden Academy", "Academy converter",
     "Open, but proposed to close", "Secondary", "1100", "North London Trust", "H", "London",
     "E09000007", "E05013653"],
    ["150003", "202", "Camden", "7001", "Camden Special", "Community special school", "Open",
     "Not applicable", "80", "", "H", "London", "E09000007", "E05013652"],
    ["150004", "202", "Camden", "2002", "Closed Primary", "Community school", "Closed",
     "Primary", "", "", "H", "London", "E09000007", "E05013652"],
    ["150005", "202", "Camden", "", "Camden College", "Further education", "Open",
     "16 plus", "", "", "H", "London", "E09000007", "E05013652"],
]


def _extract(tmp_path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(GIAS_HEADER)
    writer.writerows(ROWS)
    path = tmp_path / "edubasealldata20250422.csv"
    path.write_bytes(buffer.getvalue().encode("cp1252"))  # as GIAS ships it
    return path


def test_import_gias_extract(tmp_path: Path) -> None:
    out = tmp_path / "schools.csv"
    (SEEDS_DIR / "schools.csv").read_bytes()  # the real register is only read
    out.write_bytes((SEEDS_DIR / "schools.csv").read_bytes())
    written = import_gias_extract(_extract(tmp_path), out)
    register = pl.read_csv(out, infer_schema=False)
    assert written == 3 and register.columns == REGISTER_COLUMNS
    by_urn = {r["urn"]: r for r in register.iter_rows(named=True)}
    assert set(by_urn) == {"150001", "150002", "150003"}  # closed and FE left out
    primary, academy, special = by_urn["150001"], by_urn["150002"], by_urn["150003"]
    assert primary["school_name"] == "École Saint-Éloi Primary"
    assert primary["phase"] == "State-funded primary" and primary["is_mainstream"] == "true"
    assert primary["laestab"] == "2022001" and primary["la_code"] == "202"
    assert primary["new_la_code"] == "E09000007" and primary["region_code"] == "E12000007"
    assert academy["phase"] == "State-funded secondary" and academy["trust"] == "North London Trust"
    assert special["phase"] == "State-funded special school" and special["is_mainstream"] == "false"
    assert primary["district_code"] == "E09000007" and primary["ward_code"] == "E05013652"
    assert academy["headcount_pupils"] == "1100"
