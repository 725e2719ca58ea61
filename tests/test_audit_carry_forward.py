"""A suite whose rules and input rows are unchanged keeps its last result; any change to a
row it reads (its own table, a table its rules name, the slice of one it reads, or the
base tables behind an audit view) makes it run again.

On the hand-checkable fixture warehouse (tests/audit/fixture_warehouse.py)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.audit.bundle import write_bundle
from pipelines.audit.fingerprints import UnknownInput, suite_inputs, table_fingerprint
from pipelines.audit.gx_run import AuditResult, run_suites
from pipelines.audit.suite_specs import SuiteSpec, all_suites
from pipelines.audit.warehouse_objects import OBJECT_INPUTS, object_statements

sys.path.insert(0, str(Path(__file__).parent))
from audit.fixture_warehouse import build_clean_warehouse

ALL = [s.name for s in all_suites()]


def _fresh(result: AuditResult) -> set[str]:
    return {s.name for s in result.suites if s.validated_in_run == result.run_name}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AuditResult | Path]:
    """Four audits of one warehouse: first; again unchanged; after two edits; forced."""
    folder = tmp_path_factory.mktemp("carry")
    path = build_clean_warehouse(folder / "warehouse.duckdb")
    docs = folder / "docs"
    out: dict[str, AuditResult | Path] = {"path": path, "docs": docs}
    out["first"] = run_suites(path, docs, run_name="first")
    out["unchanged"] = run_suites(path, docs, run_name="unchanged")
    with duckdb.connect(str(path)) as conn:
        # One spend line's amount (breaks the spend reconciliation), and the row count
        # of one *outcomes* submission unit (breaks the outcomes row-count rule). The
        # voice and allocations units are untouched, so their suites stay carried.
        conn.execute("UPDATE staging.stg_spend__lines SET amount_gbp = amount_gbp + 10 "
                     "WHERE submission_id = 'spe-100002-2425' AND row_number = 3")
        conn.execute("UPDATE audit.submission_units SET rows_loaded = rows_loaded + 1 "
                     "WHERE submission_id = 'out-100003-2425'")
    out["edited"] = run_suites(path, docs, run_name="edited")
    out["forced"] = run_suites(path, docs, run_name="forced", carry_forward=False)
    return out


def test_first_run_validates_every_suite(runs: dict[str, AuditResult | Path]) -> None:
    first = runs["first"]
    assert isinstance(first, AuditResult)
    assert _fresh(first) == set(ALL)
    assert not first.blocking


def test_unchanged_warehouse_carries_every_result_forward(
        runs: dict[str, AuditResult | Path]) -> None:
    first, again = runs["first"], runs["unchanged"]
    assert isinstance(first, AuditResult) and isinstance(again, AuditResult)
    assert _fresh(again) == set()
    for before, after in zip(first.suites, again.suites, strict=True):
        assert after.validated_in_run == "first" and after.validated_at == first.run_time
        assert (after.status, after.outcomes, after.data_docs_page) == \
            (before.status, before.outcomes, before.data_docs_page)
        assert after.note.startswith("carried forward: validated in run first")


def test_a_change_reruns_exactly_the_suites_that_read_it(
        runs: dict[str, AuditResult | Path]) -> None:
    edited = runs["edited"]
    assert isinstance(edited, AuditResult)
    # stg_spend__lines: its own table; fct_spend_lines: its rules read that table;
    # stg_outcomes: its rules read the outcomes slice of audit.submission_units.
    assert _fresh(edited) == {"stg_spend__lines", "fct_spend_lines",
                              "stg_outcomes__pupil_years"}
    # The new results are GX's, not the old ones: both edits are caught and block.
    assert edited.blocking
    assert any("sum of its loaded lines" in o.description
               for o in edited.suite("stg_spend__lines").failures())
    assert any("submission log" in o.description
               for o in edited.suite("stg_outcomes__pupil_years").failures())
    assert edited.suite("stg_voice__responses").validated_in_run == "first"


def test_carry_forward_can_be_turned_off(runs: dict[str, AuditResult | Path]) -> None:
    forced, edited = runs["forced"], runs["edited"]
    assert isinstance(forced, AuditResult) and isinstance(edited, AuditResult)
    assert _fresh(forced) == set(ALL)
    assert [(s.name, s.status, s.outcomes) for s in forced.suites] == \
        [(s.name, s.status, s.outcomes) for s in edited.suites]


def test_results_table_and_bundle_say_what_was_carried(
        runs: dict[str, AuditResult | Path], tmp_path: Path) -> None:
    path, docs = runs["path"], runs["docs"]
    assert isinstance(path, Path) and isinstance(docs, Path)
    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(
            """SELECT run_name, count(DISTINCT suite),
                      count(DISTINCT suite) FILTER (WHERE validated_in_run <> run_name)
               FROM audit.gx_results GROUP BY run_name ORDER BY min(run_time)""").fetchall()
    assert rows == [("first", 12, 0), ("unchanged", 12, 12), ("edited", 12, 9),
                    ("forced", 12, 0)]
    # The bundle describes the latest run: "forced" carried nothing; without it the
    # latest is "edited", which carried 9 suites forward.
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(path, copy)
    notice = "Not re-run: these are the results of validation"
    index = (write_bundle(copy, tmp_path / "pub", docs) / "index.html").read_text()
    assert index.count(notice) == 0
    with duckdb.connect(str(copy)) as conn:
        conn.execute("DELETE FROM audit.gx_results WHERE run_name = 'forced'")
    index = (write_bundle(copy, tmp_path / "pub2", docs) / "index.html").read_text()
    assert index.count(notice) == 9
    # Which run produced the carried results, and when, in words a person reads.
    assert re.search(r"validation\s+first of \d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d UTC", index)


def test_missing_data_docs_page_means_validating_again(tmp_path: Path) -> None:
    path = build_clean_warehouse(tmp_path / "warehouse.duckdb")
    run_suites(path, tmp_path / "docs", suites=["dim_school_years"], run_name="one")
    shutil.rmtree(tmp_path / "docs")
    again = run_suites(path, tmp_path / "docs", suites=["dim_school_years"], run_name="two")
    assert _fresh(again) == {"dim_school_years"}


# --- what a suite reads -------------------------------------------------------------


def test_every_suite_input_is_a_base_table() -> None:
    for spec in all_suites():
        inputs = suite_inputs(spec)  # raises UnknownInput for an unlisted view
        assert spec.qualified_table in inputs
        assert not any(t in OBJECT_INPUTS for t in inputs), (spec.name, inputs)
    spend = next(s for s in all_suites() if s.name == "stg_spend__lines")
    # Read through audit.v_spend_reconciliation:
    assert {"raw.spend", "ref.urn_current"} <= set(suite_inputs(spend))


def test_an_unknown_view_is_refused() -> None:
    spec = SuiteSpec("x", "staging", "t", "staging", "p", [
        {"type": "unexpected_rows_expectation",
         "unexpected_rows_query": "SELECT * FROM audit.v_something_new"}])
    with pytest.raises(UnknownInput, match="v_something_new"):
        suite_inputs(spec)


def _reads(spec: SuiteSpec) -> str:
    """All SQL a suite's fingerprint covers: its rules and the audit views they read."""
    text = json.dumps(spec.expectations)
    views = object_statements()
    return text + "\n".join(sql for name, sql in views.items() if name in text)


@pytest.mark.parametrize("spec", [s for s in all_suites() if s.narrow], ids=lambda s: s.name)
def test_a_narrowed_table_is_only_read_through_that_slice(spec: SuiteSpec) -> None:
    """The fingerprint covers only the slice in `narrow`; a rule reading more of the table
    would be carried forward when rows outside the slice changed."""
    sql = " ".join(_reads(spec).split())
    for table, condition in spec.narrow.items():
        uses = [m.end() for m in re.finditer(re.escape(table) + r"\b", sql)]
        assert uses, f"{spec.name}: {table} is narrowed but never read"
        for end in uses:
            window = sql[end:end + 160]
            for atom in condition.split(" AND "):
                assert re.search(r"(\b\w+\.)?" + re.escape(atom), window), (
                    f"{spec.name}: a read of {table} without '{atom}': {window}")


# --- the fingerprint of a table ---------------------------------------------------

_CELLS = st.one_of(st.none(), st.integers(-5, 5))
_ROWS = st.lists(st.tuples(_CELLS, _CELLS, st.sampled_from(["a", "b", None])),
                 min_size=1, max_size=12)


def _fp(rows: list[tuple[int | None, int | None, str | None]]) -> tuple[int, str]:
    with duckdb.connect() as conn:
        conn.execute("CREATE TABLE t(a INTEGER, b INTEGER, c VARCHAR)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
        fp = table_fingerprint(conn, "t", None)
    return fp.rows, fp.row_hash_sum


@settings(max_examples=60, deadline=None)
@given(_ROWS, st.data())
def test_fingerprint_ignores_order_and_sees_any_one_cell_change(
        rows: list[tuple[int | None, int | None, str | None]], data: st.DataObject) -> None:
    assert _fp(rows) == _fp(list(reversed(rows)))
    i = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.integers(0, 2))
    first, second, label = rows[i]
    if column == 0:
        first = data.draw(_CELLS.filter(lambda v: v != rows[i][0]))
    elif column == 1:
        second = data.draw(_CELLS.filter(lambda v: v != rows[i][1]))
    else:
        label = data.draw(st.sampled_from(["a", "b", None]).filter(lambda v: v != rows[i][2]))
    changed = list(rows)
    changed[i] = (first, second, label)
    assert _fp(changed) != _fp(rows)


def test_fingerprint_sees_a_renamed_column_or_a_new_type() -> None:
    # DuckDB's row hash does not: hash({'a': 1}) = hash({'b': 1}) = hash({'a': 1::BIGINT}).
    with duckdb.connect() as conn:
        conn.execute("CREATE TABLE t AS SELECT 1::INTEGER AS a")
        before = table_fingerprint(conn, "t", None)
        conn.execute("ALTER TABLE t RENAME COLUMN a TO b")
        renamed = table_fingerprint(conn, "t", None)
        conn.execute("ALTER TABLE t ALTER COLUMN b SET DATA TYPE BIGINT")
        widened = table_fingerprint(conn, "t", None)
    assert before.row_hash_sum == renamed.row_hash_sum == widened.row_hash_sum
    assert len({before, renamed, widened}) == 3


def test_a_renamed_column_makes_its_suite_run_again(tmp_path: Path) -> None:
    path = build_clean_warehouse(tmp_path / "warehouse.duckdb")
    docs = tmp_path / "docs"
    assert run_suites(path, docs, suites=["dim_school_years"], run_name="one").blocking \
        is False
    with duckdb.connect(str(path)) as conn:
        conn.execute("ALTER TABLE marts.dim_school_years RENAME COLUMN urn TO school_urn")
    again = run_suites(path, docs, suites=["dim_school_years"], run_name="two")
    assert _fresh(again) == {"dim_school_years"}
    assert again.suite("dim_school_years").status == "failed"


def test_fingerprint_of_a_slice_ignores_rows_outside_it() -> None:
    with duckdb.connect() as conn:
        conn.execute("CREATE TABLE u AS SELECT * FROM (VALUES ('voice', 1), ('outcomes', 2))"
                     " v(source, n)")
        before = table_fingerprint(conn, "u", "source = 'voice'")
        conn.execute("UPDATE u SET n = 3 WHERE source = 'outcomes'")
        assert table_fingerprint(conn, "u", "source = 'voice'") == before
        conn.execute("UPDATE u SET n = 4 WHERE source = 'voice'")
        assert table_fingerprint(conn, "u", "source = 'voice'") != before
