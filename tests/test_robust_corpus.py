"""The bad-input corpus, all of it in ONE ingest run with good files beside it.

tests/corpus/ holds the committed files and expected.json (built by
scripts/make_corpus.py, which says how to read an expectation); the inputs too big to
commit (one million rows of garbage, two zip bombs, a 1 MB description) are built into the
landing folder at test time. The reference tables and the four ingest assets are
materialised together in one Dagster run, as `imf run`'s ingest step does, and then every
file is checked: loaded or refused as expected, with a message that names it (and the row
for quarantined rows), nothing lost (rows read = loaded + quarantined, recounted from the
tables), refused files kept byte for byte, and the good files loaded exactly as they load
on their own.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg
import duckdb
import pytest
from conftest import TEST_KEY

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpus"
SOURCES = ("spend", "allocations", "outcomes", "voice")


def load_make_corpus() -> ModuleType:
    path = REPO / "scripts" / "make_corpus.py"
    spec = importlib.util.spec_from_file_location("make_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_corpus", module)
    spec.loader.exec_module(module)
    return module


make_corpus = load_make_corpus()
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text("utf-8"))
ALL_EXPECTED: dict[str, dict[str, Any]] = {**EXPECTED, **make_corpus.GENERATED}
GOOD = sorted(name for name in EXPECTED if Path(name).name.startswith("good_"))


@dataclass
class CorpusRun:
    landing: Path
    warehouse: Path
    digests: dict[str, str]  # corpus name -> sha256 of the bytes dropped
    messages: list[str]  # every log message of the Dagster run
    checks_passed: dict[str, bool]
    seconds: float


def run_ingest(landing: Path, warehouse: Path) -> tuple[dg.ExecuteInJobResult, list[str]]:
    """Reference tables + the four ingest assets, in one Dagster run."""
    from pipelines.reference.assets import reference_tables
    from pipelines.resources.warehouse import Warehouse
    from pipelines.settings import ImfSettings
    from pipelines.sources.defs import defs as source_defs

    settings = ImfSettings(landing_dir=str(landing), warehouse=str(warehouse),
                           publish_dir=str(warehouse.parent / "published"),
                           pseudonym_key=TEST_KEY)
    assets = [reference_tables, *(source_defs.assets or [])]
    checks = list(source_defs.asset_checks or [])
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [*assets, *checks],  # type: ignore[list-item]
            instance=instance,
            resources={"settings": settings, "warehouse": Warehouse(path=str(warehouse))},
            raise_on_error=False,
        )
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return result, messages


def drop(landing: Path, files: dict[str, bytes]) -> dict[str, str]:
    digests = {}
    for name, data in files.items():
        target = landing / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusRun]:
    root = tmp_path_factory.mktemp("corpus")
    landing = root / "landing"
    for source in SOURCES:
        (landing / source).mkdir(parents=True)
    committed = {name: (CORPUS / name).read_bytes() for name in EXPECTED}
    digests = drop(landing, committed)
    make_corpus.build_generated(landing)
    for name in make_corpus.GENERATED:
        digests[name] = hashlib.sha256((landing / name).read_bytes()).hexdigest()
    started = time.monotonic()
    result, messages = run_ingest(landing, root / "warehouse.duckdb")
    seconds = time.monotonic() - started
    checks = {
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}": evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }
    assert result.success, "the ingest run itself failed: " + "; ".join(
        str(e.event_specific_data) for e in result.all_events if e.is_step_failure)
    yield CorpusRun(landing, root / "warehouse.duckdb", digests, messages, checks, seconds)


@pytest.fixture(scope="module")
def db(corpus_run: CorpusRun) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(corpus_run.warehouse), read_only=True)
    yield conn
    conn.close()


# ── matching one file against its expectation ───────────────────────────────────────────

def log_rows(db: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, Any]]:
    source, file_name = name.split("/", 1)
    cursor = db.execute(
        "SELECT * FROM audit.submission_log WHERE source = ? AND file_name = ?",
        [source, file_name])
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def mismatches(db: duckdb.DuckDBPyConnection, run: CorpusRun, name: str,
               expected: dict[str, Any]) -> list[str]:
    """Every way the actual outcome of `name` differs from `expected` (empty: it matches)."""
    if "any_of" in expected:
        tried = [mismatches(db, run, name, alternative) for alternative in expected["any_of"]]
        if any(not problems for problems in tried):
            return []
        return [f"matches none of {len(tried)} allowed outcomes ({expected['why']}):"] + [
            f"  alternative {i + 1}: " + "; ".join(problems) for i, problems in enumerate(tried)]
    rows = log_rows(db, name)
    if len(rows) != 1:
        return [f"{len(rows)} submission-log rows for it, expected exactly 1"]
    log = rows[0]
    source, file_name = name.split("/", 1)
    problems: list[str] = []
    if log["status"] != expected["status"]:
        return [f"status {log['status']!r} (kind {log.get('refusal_kind')!r}, reason "
                f"{log['reason']!r}), expected {expected['status']!r}"]
    if log["submission_id"] != run.digests[name]:
        problems.append("submission id is not the sha256 of the file's bytes")
    if expected["status"] == "refused":
        kind = expected["reason_kind"]
        if kind is not None and log["refusal_kind"] != kind:
            problems.append(f"refusal kind {log['refusal_kind']!r}, expected {kind!r} "
                            f"(reason: {log['reason']!r})")
        reason = (log["reason"] or "").lower()
        if f"{source}/{file_name}".lower() not in reason:
            problems.append(f"reason does not name the file: {log['reason']!r}")
        problems += [f"reason lacks {s!r}: {log['reason']!r}"
                     for s in expected["reason_contains"] if s.lower() not in reason]
        kept = Path(log["landing_path"])
        if not kept.is_relative_to(run.landing / "_refused" / source):
            problems.append(f"refused file not under _refused/{source}/: {kept}")
        elif not kept.is_file() or hashlib.sha256(kept.read_bytes()).hexdigest() != \
                run.digests[name]:
            problems.append(f"refused file not kept with its bytes intact at {kept}")
        if (run.landing / name).exists():
            problems.append("refused file still in the landing folder")
        return problems
    return problems + loaded_mismatches(db, log, expected)


def loaded_mismatches(db: duckdb.DuckDBPyConnection, log: dict[str, Any],
                      expected: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    sid, source = log["submission_id"], log["source"]
    for key in ("rows_read", "rows_loaded", "rows_quarantined"):
        if log[key] != expected[key]:
            problems.append(f"{key} = {log[key]}, expected {expected[key]}")
    counts = db.execute(f"""
        WITH r AS (SELECT row_number FROM raw.{source} WHERE submission_id = $sid),
             h AS (SELECT row_number FROM audit.quarantine_rows WHERE submission_id = $sid),
             q AS (SELECT DISTINCT row_number FROM audit.quarantine WHERE submission_id = $sid),
             u AS (SELECT row_number FROM r UNION SELECT row_number FROM h)
        SELECT (SELECT count(*) FROM r), (SELECT count(DISTINCT row_number) FROM r),
               (SELECT count(*) FROM h), (SELECT count(DISTINCT row_number) FROM h),
               (SELECT count(*) FROM (SELECT row_number FROM r INTERSECT SELECT row_number FROM h)),
               (SELECT count(*) FROM u), (SELECT min(row_number) FROM u),
               (SELECT max(row_number) FROM u),
               (SELECT count(*) FROM (SELECT * FROM q EXCEPT SELECT row_number FROM h)) +
               (SELECT count(*) FROM (SELECT row_number FROM h EXCEPT SELECT * FROM q))
        """, {"sid": sid}).fetchone()
    assert counts is not None
    raw_n, raw_distinct, held_n, held_distinct, both, union_n, low, high, unexplained = counts
    if raw_n != raw_distinct:
        problems.append("a row number appears twice in raw")
    if held_n != held_distinct:
        problems.append("a row appears twice in quarantine_rows")
    if both:
        problems.append(f"{both} rows both loaded and quarantined")
    if union_n != expected["rows_read"] or (
            union_n and (low != 2 or high != expected["rows_read"] + 1)):
        problems.append(f"raw + quarantine hold {union_n} distinct rows numbered "
                        f"{low}..{high}, expected rows 2..{expected['rows_read'] + 1}")
    if unexplained:
        problems.append(f"{unexplained} rows are quarantined without a reason, or have "
                        "reasons without being quarantined")
    if expected["rows_read"] <= 1000:
        reasons: dict[int, list[tuple[str, str]]] = {}
        for row_number, column, rule in db.execute(
                "SELECT row_number, column_name, rule FROM audit.quarantine "
                "WHERE submission_id = ?", [sid]).fetchall():
            reasons.setdefault(row_number, []).append((column, rule))
        held_rows = set(reasons)
        want = {entry["row"]: entry for entry in expected["quarantine"]}
        if held_rows != set(want):
            problems.append(f"quarantined rows {sorted(held_rows)}, expected {sorted(want)}")
        for row_number, entry in want.items():
            got = reasons.get(row_number, [])
            rules = {rule for _, rule in got}
            if entry["rules"] is not None:
                missing = set(entry["rules"]) - rules
                if missing:
                    problems.append(f"row {row_number}: missing rules {sorted(missing)}; "
                                    f"got {sorted(got)}")
                stray = [(c, r) for c, r in got
                         if r not in entry["rules"] and c not in entry["columns"]]
                if stray:
                    problems.append(f"row {row_number}: unexpected reasons {stray}")
            elif not got:
                problems.append(f"row {row_number}: quarantined without a reason")
    else:
        for entry in expected["quarantine"]:
            found = db.execute("SELECT count(*) FROM audit.quarantine_rows WHERE "
                               "submission_id = ? AND row_number = ?",
                               [sid, entry["row"]]).fetchone()
            if not found or found[0] != 1:
                problems.append(f"row {entry['row']} not quarantined")
    for row_text, columns in expected.get("values", {}).items():
        for column, value in columns.items():
            got_value = db.execute(
                f"SELECT {column} FROM raw.{source} WHERE submission_id = ? AND row_number = ?",
                [sid, int(row_text)]).fetchall()
            if [as_text(v) for (v,) in got_value] != [value]:
                problems.append(f"row {row_text} {column}: {got_value!r}, expected {value!r}")
    extra = {c.lower() for c in (log["extra_columns"] or [])}
    for column in expected.get("extra_columns", []):
        if column not in extra:
            problems.append(f"extra column {column!r} not listed (got {sorted(extra)})")
    return problems


# ── the tests ───────────────────────────────────────────────────────────────────────────

def test_corpus_is_as_committed() -> None:
    """expected.json and the files are what scripts/make_corpus.py builds."""
    assert make_corpus.check() == []
    assert len(EXPECTED) >= 40
    assert {name.split("/")[0] for name in EXPECTED} == set(SOURCES)


@pytest.mark.parametrize("name", sorted(ALL_EXPECTED))
def test_each_file_gets_its_expected_outcome(corpus_run: CorpusRun,
                                             db: duckdb.DuckDBPyConnection, name: str) -> None:
    problems = mismatches(db, corpus_run, name, ALL_EXPECTED[name])
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def test_every_file_is_named_in_the_run_log(corpus_run: CorpusRun) -> None:
    """The analyst sees each file by name in the Dagster run's log (loaded or refused)."""
    text = "\n".join(corpus_run.messages)
    unnamed = [name for name in ALL_EXPECTED if name not in text]
    assert not unnamed, f"files never named in the run's log: {unnamed}"


def test_quarantine_reasons_name_a_row_column_and_known_rule(
        db: duckdb.DuckDBPyConnection) -> None:
    from pipelines.ingest.rules import RULES

    bad = db.execute("""
        SELECT submission_id, row_number, column_name, rule FROM audit.quarantine
        WHERE row_number IS NULL OR row_number < 2 OR rule IS NULL
           OR column_name IS NULL OR column_name = '' LIMIT 5""").fetchall()
    assert bad == []
    rules = {r for (r,) in db.execute("SELECT DISTINCT rule FROM audit.quarantine").fetchall()}
    assert rules <= set(RULES), f"rules outside the shared vocabulary: {rules - set(RULES)}"


def test_refusal_reasons_stay_short_enough_to_act_on(db: duckdb.DuckDBPyConnection) -> None:
    """A reason is a message for a school business manager: it must not echo a whole
    garbage header or file back (spend/huge_header_line.csv has 20,000 columns)."""
    long = db.execute("""
        SELECT source || '/' || file_name, length(reason) FROM audit.submission_log
        WHERE length(reason) > 1000 ORDER BY 2 DESC""").fetchall()
    assert long == [], f"reasons longer than 1,000 characters: {long}"


def test_nothing_lost_for_any_submission(db: duckdb.DuckDBPyConnection,
                                         corpus_run: CorpusRun) -> None:
    """Per submission: rows read = rows in raw + quarantined rows, recounted from tables."""
    unbalanced = db.execute("""
        WITH raw_counts AS (
            SELECT submission_id, count(*) AS n FROM (
                SELECT submission_id FROM raw.spend UNION ALL
                SELECT submission_id FROM raw.allocations UNION ALL
                SELECT submission_id FROM raw.outcomes UNION ALL
                SELECT submission_id FROM raw.voice) GROUP BY ALL),
        held AS (SELECT submission_id, count(DISTINCT row_number) AS n
                 FROM audit.quarantine_rows GROUP BY ALL)
        SELECT l.file_name, l.status, l.rows_read, coalesce(r.n, 0), coalesce(h.n, 0)
        FROM audit.submission_log l
        LEFT JOIN raw_counts r USING (submission_id) LEFT JOIN held h USING (submission_id)
        WHERE coalesce(l.rows_read, 0) <> coalesce(r.n, 0) + coalesce(h.n, 0)
           OR coalesce(l.rows_loaded, 0) <> coalesce(r.n, 0)
           OR coalesce(l.rows_quarantined, 0) <> coalesce(h.n, 0)
           OR (l.status = 'refused' AND coalesce(r.n, 0) + coalesce(h.n, 0) > 0)
    """).fetchall()
    assert unbalanced == []
    orphans = db.execute("""
        SELECT DISTINCT submission_id FROM raw.spend
        WHERE submission_id NOT IN (SELECT submission_id FROM audit.submission_log
                                    WHERE status = 'loaded')""").fetchall()
    assert orphans == []
    reconciliation = {k: v for k, v in corpus_run.checks_passed.items() if "reconciliation" in k}
    assert len(reconciliation) == 4 and all(reconciliation.values()), reconciliation


def test_every_dropped_file_is_accounted_for(db: duckdb.DuckDBPyConnection) -> None:
    logged = {f"{s}/{f}" for s, f in db.execute(
        "SELECT source, file_name FROM audit.submission_log").fetchall()}
    assert logged == set(ALL_EXPECTED)


def test_good_files_load_as_they_do_alone(tmp_path: Path, db: duckdb.DuckDBPyConnection) -> None:
    """Other files in the same run are unaffected: the good files' raw rows are identical
    to those of a run with only the good files."""
    landing = tmp_path / "landing"
    drop(landing, {name: (CORPUS / name).read_bytes() for name in GOOD})
    result, _ = run_ingest(landing, tmp_path / "alone.duckdb")
    assert result.success
    with duckdb.connect(str(tmp_path / "alone.duckdb"), read_only=True) as alone:
        for name in GOOD:
            source = name.split("/")[0]
            sid = hashlib.sha256((CORPUS / name).read_bytes()).hexdigest()
            query = f"SELECT * FROM raw.{source} WHERE submission_id = ? ORDER BY row_number"
            expected = alone.execute(query, [sid]).fetchall()
            assert expected, f"{name} loaded nothing on its own"
            assert db.execute(query, [sid]).fetchall() == expected, name


def test_corpus_run_is_bounded_in_time(corpus_run: CorpusRun) -> None:
    """One million garbage rows and two zip bombs included, the run stays well bounded."""
    assert corpus_run.seconds < 150, f"ingest of the corpus took {corpus_run.seconds:.0f} s"


def test_refused_files_are_moved_not_copied_or_deleted(corpus_run: CorpusRun) -> None:
    refused_dir = corpus_run.landing / "_refused"
    kept = {hashlib.sha256(p.read_bytes()).hexdigest()
            for p in refused_dir.rglob("*") if p.is_file()}
    still = {hashlib.sha256(p.read_bytes()).hexdigest()
             for source in SOURCES for p in (corpus_run.landing / source).iterdir()}
    # Every dropped file is in exactly one place: landing (loaded) or _refused (refused).
    assert kept | still == set(corpus_run.digests.values())
    assert not kept & still


def test_zip_bomb_is_refused_quickly_in_bounded_memory(tmp_path: Path) -> None:
    """The bomb alone, in a child process limited to 2 GiB of address space beyond the
    interpreter: a reader that expanded 2 GiB of XML would fail or take minutes."""
    import subprocess

    landing = tmp_path / "landing"
    (landing / "outcomes").mkdir(parents=True)
    make_corpus.write_zip_bomb(landing / "outcomes" / "bomb.xlsx")
    script = f"""
import resource, sys, time, duckdb
sys.path.insert(0, {str(REPO)!r})
from pipelines.settings import ImfSettings
from pipelines.sources.specs import ingest_source
settings = ImfSettings(landing_dir={str(landing)!r}, warehouse={str(tmp_path / 'w.duckdb')!r},
                       publish_dir={str(tmp_path / 'p')!r}, pseudonym_key='k')
conn = duckdb.connect({str(tmp_path / 'w.duckdb')!r})
sys.path.insert(0, {str(REPO / "tests")!r})
from test_fuzz_ingest import load_reference
load_reference(conn)
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
import psutil
limit = psutil.Process().memory_info().vms + (2 << 30)
resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
started = time.monotonic()
summary = ingest_source('outcomes', settings, conn)
outcome = summary.files[0]
print(outcome.status, outcome.refusal_kind, round(time.monotonic() - started, 1))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    status, kind, seconds = done.stdout.split()[-3:]
    assert (status, kind) == ("refused", "too_large")
    assert float(seconds) < 15


def test_unknown_symlinked_and_nested_entries_never_break_the_run(tmp_path: Path) -> None:
    """Shapes of landing folders that are not files: a run still completes and loads the
    good file beside them (file-system safety has its own tests)."""
    landing = tmp_path / "landing"
    drop(landing, {"spend/good_trust_return.csv":
                   (CORPUS / "spend/good_trust_return.csv").read_bytes()})
    (landing / "spend" / "a folder").mkdir()
    (landing / "spend" / "a folder" / "inner.csv").write_bytes(b"urn\n1\n")
    (landing / "spend" / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    (landing / "spend" / "~$lock.xlsx").write_bytes(b"lock")
    (landing / "unknown_source").mkdir()
    (landing / "unknown_source" / "x.csv").write_bytes(b"a\n1\n")
    shutil.copy(CORPUS / "spend/empty.csv", landing / "spend" / ".hidden.csv")
    result, _ = run_ingest(landing, tmp_path / "w.duckdb")
    assert result.success
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        rows = dict(conn.execute(
            "SELECT file_name, status FROM audit.submission_log").fetchall())
    assert rows.get("good_trust_return.csv") == "loaded"
    assert rows.get("dangling.csv") == "refused"
