"""Resubmission per unit, duplicate files, idempotent re-runs, and school identity over time."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
from conftest import ImfEnv
from ingest.fixtures import ref_template, wh  # noqa: F401
from ingest.support import (
    PREDECESSOR_URN,
    URN,
    URN_2,
    csv_bytes,
    ingest,
    query,
    row,
    upn,
    write,
)

from pipelines.settings import MODELS_DIR

T0 = 1_780_000_000.0  # an mtime in 2026


def staged(warehouse: Path, model: str) -> list[tuple]:
    sql = (MODELS_DIR / "staging" / f"{model}.sql").read_text()
    with duckdb.connect(str(warehouse)) as conn:
        return conn.execute(sql).fetchall()


def spend(urn: int, term: str, amount: str) -> dict[str, str]:
    return row("spend", urn=str(urn), term=term, amount_gbp=amount)


def test_later_file_wins_per_unit_and_history_is_kept(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    trust = csv_bytes([spend(URN, "autumn", "10"), spend(URN, "spring", "20"),
                       spend(URN_2, "autumn", "30")])
    write(imf_env.landing, "spend", "trust_return.csv", trust, mtime=T0)
    ingest("spend", wh)
    write(imf_env.landing, "spend", "aldgate_fix.csv", csv_bytes([spend(URN, "autumn", "11")]),
          mtime=T0 + 60)
    ingest("spend", wh)
    current = {(u, t, float(a)) for _, _, u, _, _, t, _, a, _ in staged(wh, "stg_spend__lines")}
    assert current == {(URN, "autumn", 11.0), (URN, "spring", 20.0), (URN_2, "autumn", 30.0)}
    assert query(wh, "SELECT count(*) FROM raw.spend")[0][0] == 4  # history kept
    units = query(wh, "SELECT l.file_name, u.urn, u.term, u.is_current, s.file_name "
                  "FROM audit.submission_units u JOIN audit.submission_log l USING "
                  "(submission_id) LEFT JOIN audit.submission_log s ON s.submission_id = "
                  "u.superseded_by ORDER BY 1, 2, 3")
    assert units == [
        ("aldgate_fix.csv", URN, "autumn", True, None),
        ("trust_return.csv", URN, "autumn", False, "aldgate_fix.csv"),
        ("trust_return.csv", URN, "spring", True, None),
        ("trust_return.csv", URN_2, "autumn", True, None),
    ]


def test_later_means_file_mtime_then_name(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    # The newer file arrives first; the older one arriving later does not replace it.
    write(imf_env.landing, "allocations", "new.csv", csv_bytes([row("allocations",
          allocation_gbp="200")]), mtime=T0 + 100)
    ingest("allocations", wh)
    write(imf_env.landing, "allocations", "old.csv", csv_bytes([row("allocations",
          allocation_gbp="100")]), mtime=T0)
    # Same mtime: the later name wins.
    write(imf_env.landing, "allocations", "z_same_time.csv", csv_bytes([row("allocations",
          urn=str(URN_2), allocation_gbp="5")]), mtime=T0)
    write(imf_env.landing, "allocations", "a_same_time.csv", csv_bytes([row("allocations",
          urn=str(URN_2), allocation_gbp="6")]), mtime=T0)
    ingest("allocations", wh)
    current = {(r[2], float(r[5])) for r in staged(wh, "stg_allocations__allocations")}
    assert current == {(URN, 200.0), (URN_2, 5.0)}


def test_same_bytes_twice_is_one_submission(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    data = csv_bytes([row("voice")])
    write(imf_env.landing, "voice", "survey.csv", data)
    write(imf_env.landing, "voice", "survey (1).csv", data)
    summary = ingest("voice", wh)
    assert sorted(f.status for f in summary.files) == ["duplicate", "loaded"]
    assert query(wh, "SELECT count(*) FROM audit.submission_log")[0][0] == 1
    assert query(wh, "SELECT count(*) FROM raw.voice")[0][0] == 1


def snapshot(warehouse: Path) -> dict[str, list[str]]:
    tables = ["raw.outcomes", "audit.submission_log", "audit.submission_units",
              "audit.quarantine", "audit.quarantine_rows", "audit.landing_files"]
    return {t: sorted(map(repr, query(warehouse, f"SELECT * FROM {t}"))) for t in tables}


def test_rerun_with_no_new_files_changes_nothing(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    write(imf_env.landing, "outcomes", "o.csv", csv_bytes(
        [row("outcomes", upn=upn(1)), row("outcomes", upn=upn(2), suspensions="99")]))
    write(imf_env.landing, "outcomes", "bad.csv", b"not,a,contract\n1,2,3\n")
    first = ingest("outcomes", wh)
    before = snapshot(wh)
    second = ingest("outcomes", wh)
    assert {f.status for f in first.files} == {"loaded", "refused"}
    assert [f.status for f in second.files] == ["unchanged"]
    assert snapshot(wh) == before
    # Touching the file (same bytes, new mtime) re-hashes it but loads nothing new.
    os.utime(imf_env.landing / "outcomes" / "o.csv", (T0, T0))
    assert [f.status for f in ingest("outcomes", wh).files] == ["duplicate"]
    after = snapshot(wh)
    assert {t: v for t, v in after.items() if t != "audit.landing_files"} == {
        t: v for t, v in before.items() if t != "audit.landing_files"}


def test_converted_school_keeps_its_history(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    successor = query(wh, "SELECT current_urn FROM ref.urn_current WHERE urn = ?",
                      [PREDECESSOR_URN])[0][0]
    assert successor != PREDECESSOR_URN
    before = row("outcomes", urn=str(PREDECESSOR_URN), academic_year="2022/23", upn=upn(9),
                 plan_reviewed_on="2023-03-01")
    after = row("outcomes", urn=str(successor), academic_year="2023/24", upn=upn(9),
                plan_reviewed_on="2024-03-01")
    write(imf_env.landing, "outcomes", "junior_2022.csv", csv_bytes([before]))
    write(imf_env.landing, "outcomes", "academy_2023.csv", csv_bytes([after]))
    summary = ingest("outcomes", wh)
    assert summary.rows_loaded == 2, summary
    rows = {(r[4], r[2], r[3], r[5]) for r in staged(wh, "stg_outcomes__pupil_years")}
    pupil = query(wh, "SELECT DISTINCT pupil_id FROM raw.outcomes")
    assert len(pupil) == 1  # the same pupil, the same pseudonym across schools and years
    assert rows == {("2022/23", successor, PREDECESSOR_URN, pupil[0][0]),
                    ("2023/24", successor, successor, pupil[0][0])}
