"""The audit on a hand-checkable fixture warehouse (tests/audit/fixture_warehouse.py):
clean data passes every suite; each kind of injected problem fails its expectation;
critical failures block and warnings do not; lineage; Data Docs and bounded history; the
auditor bundle. GX is slow to start, so each warehouse is validated once per module."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from pipelines.audit.bundle import write_bundle
from pipelines.audit.gx_run import AuditResult, ExpectationOutcome, run_suites
from pipelines.audit.suite_specs import all_suites

sys.path.insert(0, str(Path(__file__).parent))
from audit.fixture_warehouse import build_clean_warehouse


@pytest.fixture(scope="module")
def clean_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_clean_warehouse(tmp_path_factory.mktemp("clean") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def clean(clean_warehouse: Path) -> AuditResult:
    return run_suites(clean_warehouse, clean_warehouse.parent / "data_docs")


# Each problem: SQL that injects it, and the expectation that must catch it.
PROBLEMS: dict[str, tuple[str, str, Callable[[ExpectationOutcome], bool]]] = {
    "duplicate key": (
        "INSERT INTO staging.stg_allocations__allocations "
        "SELECT * FROM staging.stg_allocations__allocations WHERE urn = 100001 LIMIT 1",
        "stg_allocations__allocations",
        lambda o: o.description.startswith("one allocation per school")
        and o.unexpected_count == 1),  # one key, twice
    "unknown code": (
        "UPDATE staging.stg_outcomes__pupil_years SET sen_provision = 'X' "
        "WHERE submission_id = 'out-100002-2324' AND row_number = 5",
        "stg_outcomes__pupil_years",
        lambda o: o.column == "sen_provision" and "codes" in o.description),
    "out of range": (
        "UPDATE staging.stg_voice__responses SET response = 9 "
        "WHERE submission_id = 'voi-100001-2324' AND row_number = 2",
        "stg_voice__responses",
        lambda o: o.column == "response"),
    "row count mismatch vs submission log": (
        "UPDATE audit.submission_units SET rows_loaded = rows_loaded + 1 "
        "WHERE submission_id = 'out-100003-2425'",
        "stg_outcomes__pupil_years",
        lambda o: "submission log" in o.description),
    "school without a group": (
        "DELETE FROM ref.group_membership WHERE urn = 100003",
        "stg_outcomes__pupil_years",
        lambda o: "partnership group" in o.description),
    "spend sum mismatch": (
        "UPDATE staging.stg_spend__lines SET amount_gbp = amount_gbp + 10 "
        "WHERE submission_id = 'spe-100002-2425' AND row_number = 3",
        "stg_spend__lines",
        lambda o: "sum of its loaded lines" in o.description),
    "numerator > denominator": (
        "UPDATE indicators.indicator_values SET numerator = denominator + 1 "
        "WHERE level = 'national' AND academic_year = '2024/25' "
        "AND sen_breakdown = 'All pupils' AND indicator_id = 'suspended_percent'",
        "indicator_values",
        lambda o: o.expectation_type == "expect_column_pair_values_a_to_be_greater_than_b"),
    "rate > 100": (
        "UPDATE indicators.published_values SET value = '101.0' "
        "WHERE level = 'national' AND academic_year = '2024/25' "
        "AND sen_breakdown = 'All pupils' AND indicator_id = 'attendance_percent'",
        "published_values",
        lambda o: "between 0 and 100" in o.description),
    "implausible year-on-year jump": (
        "UPDATE staging.stg_outcomes__pupil_years SET sessions_attended = 100 "
        "WHERE urn = 100002 AND academic_year = '2024/25'",
        "stg_outcomes__pupil_years",
        lambda o: "attendance does not move" in o.description),
}
WARNING_ONLY = {"implausible year-on-year jump"}


def _copy(src: Path, dst_dir: Path) -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / "warehouse.duckdb"
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture(scope="module")
def broken_warehouse(clean_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = _copy(clean_warehouse, tmp_path_factory.mktemp("broken"))
    with duckdb.connect(str(path)) as conn:
        for sql, _, _ in PROBLEMS.values():
            conn.execute(sql)
    return path


@pytest.fixture(scope="module")
def broken(broken_warehouse: Path) -> AuditResult:
    return run_suites(broken_warehouse, broken_warehouse.parent / "data_docs")


def test_clean_warehouse_passes_every_suite(clean: AuditResult) -> None:
    assert [s.name for s in clean.suites] == [s.name for s in all_suites()]
    failures = {s.name: [(o.description, o.observed, o.error) for o in s.failures()]
                for s in clean.suites if s.status != "passed"}
    assert failures == {}
    assert not clean.blocking
    assert all(s.evaluated > 0 and s.data_docs_page for s in clean.suites)
    assert all(o.severity in ("critical", "warning") for s in clean.suites for o in s.outcomes)
    assert all(obj.built for obj in clean.objects)


def test_data_docs_site_has_an_index_and_a_page_per_suite(clean: AuditResult) -> None:
    assert clean.data_docs_index.is_file()
    for suite in clean.suites:
        assert suite.data_docs_page is not None
        assert (clean.data_docs_dir / suite.data_docs_page).is_file()


def test_results_recorded_and_gx_leaves_no_connection_open(
    clean: AuditResult, clean_warehouse: Path
) -> None:
    # Another configuration than GX's read-only one: refused if GX still held the file.
    with duckdb.connect(str(clean_warehouse), config={"threads": 1}) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT suite), bool_and(success) "
                           "FROM audit.gx_results").fetchone()
    assert row == (sum(s.evaluated for s in clean.suites), len(clean.suites), True)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_injected_problem_fails_its_expectation(broken: AuditResult, problem: str) -> None:
    _, suite, matches = PROBLEMS[problem]
    caught = [o for o in broken.suite(suite).failures() if matches(o)]
    assert caught, f"{problem}: failures were {broken.suite(suite).failures()}"
    expected = "warning" if problem in WARNING_ONLY else "critical"
    assert {o.severity for o in caught} == {expected}
    assert all(o.error is None for o in caught), "the rule ran (did not merely error)"


def test_critical_failures_block(broken: AuditResult) -> None:
    assert broken.blocking


def test_warnings_alone_do_not_block(clean_warehouse: Path, tmp_path: Path) -> None:
    path = _copy(clean_warehouse, tmp_path)
    with duckdb.connect(str(path)) as conn:
        conn.execute(PROBLEMS["implausible year-on-year jump"][0])
    result = run_suites(path, tmp_path / "docs", suites=["stg_outcomes__pupil_years"])
    suite = result.suite("stg_outcomes__pupil_years")
    assert suite.status == "failed" and suite.failed_warning == 1
    assert suite.failed_critical == 0 and not result.blocking


def test_missing_table_is_reported_not_run(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    result = run_suites(path, tmp_path / "docs", suites=["dim_school_years"])
    assert result.suite("dim_school_years").status == "not_run"
    assert "does not exist" in result.suite("dim_school_years").note


def _lineage(path: Path, level: str, group: str | None, year: str, breakdown: str,
             indicator: str) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(
            """SELECT DISTINCT submission_id FROM audit.lineage
               WHERE level = ? AND group_id IS NOT DISTINCT FROM ? AND academic_year = ?
                 AND sen_breakdown = ? AND indicator_id = ?""",
            [level, group, year, breakdown, indicator]).fetchall()
    return {r[0] for r in rows}


def _rows_by_submission(path: Path, group: str, year: str, breakdown: str,
                        indicator: str) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(
            """SELECT submission_id, contributing_rows FROM audit.lineage
               WHERE level = 'partnership_group' AND group_id = ? AND academic_year = ?
                 AND sen_breakdown = ? AND indicator_id = ?""",
            [group, year, breakdown, indicator]).fetchall()
    return {str(s): int(n) for s, n in rows}


def test_lineage_of_a_published_cell(clean: AuditResult, clean_warehouse: Path) -> None:
    ehcp = "Education, health and care plan"
    # Group 201-01 in 2024/25 is schools 100001 (resubmitted: only -b counts) and 100002
    # (moved in from 201-02 that year).
    assert _lineage(clean_warehouse, "partnership_group", "201-01", "2024/25", ehcp,
                    "suspended_percent") == {"out-100001-2425-b", "out-100002-2425"}
    # A year earlier 201-01 was school 100001 alone.
    assert _lineage(clean_warehouse, "partnership_group", "201-01", "2023/24", ehcp,
                    "suspended_percent") == {"out-100001-2324"}
    # Group 201-02 in 2023/24: 100002, and 100003 whose file used its old URN 100004.
    assert _lineage(clean_warehouse, "partnership_group", "201-02", "2023/24",
                    "All pupils", "belonging_percent") == {"voi-100002-2324",
                                                           "voi-100003-2324"}
    assert _lineage(clean_warehouse, "national", None, "2023/24", "No SEN provision",
                    "attendance_percent") == {"out-100001-2324", "out-100002-2324",
                                              "out-100003-2324"}
    # Each school-year has 2 pupils with an EHC plan and 3 on SEN support (fixture), so the
    # cells are computed from 2 and 2 + 3 of each submission's rows.
    assert _rows_by_submission(clean_warehouse, "201-01", "2024/25", ehcp,
                               "suspended_percent") == {"out-100001-2425-b": 2,
                                                        "out-100002-2425": 2}
    assert _rows_by_submission(clean_warehouse, "201-01", "2024/25", "All SEN provision",
                               "attendance_percent") == {"out-100001-2425-b": 5,
                                                         "out-100002-2425": 5}
    with duckdb.connect(str(clean_warehouse), read_only=True) as conn:
        uncovered = conn.execute(
            """SELECT count(*) FROM indicators.published_values p WHERE NOT EXISTS (
                 SELECT 1 FROM audit.lineage l WHERE l.level = p.level
                   AND l.group_id IS NOT DISTINCT FROM p.group_id
                   AND l.la_code IS NOT DISTINCT FROM p.la_code
                   AND l.academic_year = p.academic_year
                   AND l.sen_breakdown = p.sen_breakdown AND l.indicator_id = p.indicator_id
                   AND l.submission_id IS NOT NULL)""").fetchone()
    assert uncovered == (0,)


def test_history_is_bounded(clean_warehouse: Path, tmp_path: Path) -> None:
    path = _copy(clean_warehouse, tmp_path / "wh")
    docs = tmp_path / "docs"
    for _ in range(3):  # each run must validate (not carry forward) to add history
        result = run_suites(path, docs, suites=["dim_school_years"], keep_runs=2,
                            carry_forward=False)
    store = path.parent / "gx" / "gx" / "uncommitted" / "validations" / "dim_school_years"
    assert len(list(store.glob("*/*"))) == 2
    assert len(list((docs / "validations" / "dim_school_years").glob("*/*"))) == 2
    assert result.data_docs_index.is_file()
    with duckdb.connect(str(path), read_only=True) as conn:
        runs = conn.execute("SELECT count(DISTINCT run_time) FROM audit.gx_results").fetchone()
    assert runs == (4,)  # the copied clean run + these 3 (the table keeps the last 10)


def test_bundle(broken: AuditResult, broken_warehouse: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(broken_warehouse)) as conn:
        conn.execute("UPDATE audit.submission_log SET reason = '<script>alert(1)</script>' "
                     "WHERE status = 'refused'")
    publish = tmp_path / "published"
    folder = write_bundle(broken_warehouse, publish, broken.data_docs_dir)
    assert folder == publish / "audit" and folder.is_symlink()
    for name in ("index.html", "data_docs/index.html", "submission_log.csv", "quarantine.csv",
                 "quarantine_rows.csv", "reconciliation.csv", "spend_reconciliation.csv",
                 "suppression.csv", "lineage.parquet", "lineage.csv", "gx_results.csv"):
        assert (folder / name).is_file(), name
    index = (folder / "index.html").read_text()
    assert "Publishing was blocked" in index
    assert index.count("<tr>") - 1 >= sum(s.evaluated for s in broken.suites)
    assert "<script>" not in index
    assert "refused" in (folder / "submission_log.csv").read_text()
    with duckdb.connect() as conn:
        quarantine = conn.execute(
            f"SELECT count(*) FROM read_csv('{folder / 'quarantine.csv'}')").fetchone()
        balanced = conn.execute(
            f"SELECT bool_and(balanced) FROM read_csv('{folder / 'reconciliation.csv'}')"
        ).fetchone()
    assert quarantine == (1,) and balanced == (True,)
