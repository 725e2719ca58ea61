"""Fuzzing the readers and contracts through the real ingest entry point.

Hypothesis mutates valid files of every source (bytes inserted, deleted and replaced,
cells rewritten with hostile text, lines duplicated, files truncated, re-encoded) and
writes arbitrary typed cells into workbooks. Each example is dropped into the landing
folder beside a good file and ingested. Invariants, whatever the input:

- ingest never raises: the file is loaded or refused with a reason;
- nothing is lost: rows read = rows loaded + rows quarantined, recounted from the tables,
  with every row number in exactly one of them; a refused file is kept byte for byte;
- the good file next to it loads whole;
- no valid UPN from the input appears in clear anywhere in the warehouse.

Bounded: the `robust` settings profile (60 mutated CSVs, 40 workbooks, 25 arbitrary byte
strings; no deadline; derandomised so CI is repeatable). For a longer soak, set
IMF_FUZZ_PROFILE=robust-long (1,000 examples each, random).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import io
import itertools
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import hypothesis.strategies as st
import pytest
import xlsxwriter
from conftest import TEST_KEY
from hypothesis import HealthCheck, event, given, settings

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("spend", "allocations", "outcomes", "voice")

settings.register_profile(
    "robust", max_examples=60, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large])
settings.register_profile(
    "robust-long", max_examples=1000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large])
PROFILE = os.environ.get("IMF_FUZZ_PROFILE", "robust")
EXAMPLES = settings.get_profile(PROFILE).max_examples  # mutated CSVs; fewer of the others
XLSX_EXAMPLES, BYTES_EXAMPLES = EXAMPLES * 2 // 3, EXAMPLES * 5 // 12


def _load_make_corpus() -> ModuleType:
    if "make_corpus" in sys.modules:
        return sys.modules["make_corpus"]
    path = REPO / "scripts" / "make_corpus.py"
    spec = importlib.util.spec_from_file_location("make_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_corpus"] = module
    spec.loader.exec_module(module)
    return module


mc = _load_make_corpus()

UPN_SHAPE = re.compile(rb"(?i)(?<![A-Za-z0-9])[A-Z][0-9]{12}(?![A-Za-z0-9])")


def valid_upns_in(data: bytes) -> set[str]:
    """Every valid UPN (any case) written anywhere in the bytes, upper-cased."""
    found = {m.group(0).decode().upper() for m in UPN_SHAPE.finditer(data)}
    # UTF-16 text: look again with the NULs taken out.
    if b"\0" in data:
        found |= {m.group(0).decode().upper()
                  for m in UPN_SHAPE.finditer(data.replace(b"\0", b""))}
    return {u for u in found if mc.is_valid_upn(u)}


def warehouse_text(conn: duckdb.DuckDBPyConnection) -> str:
    """Every text value of every table in the warehouse (but the reference tables, which
    hold no input), upper-cased, one per line."""
    parts: list[str] = []
    tables = conn.execute("""
        SELECT table_schema, table_name, column_name FROM information_schema.columns
        WHERE (data_type LIKE 'VARCHAR%' OR data_type = 'JSON')
          AND table_schema NOT IN ('ref', 'information_schema', 'pg_catalog')""").fetchall()
    for schema, table, column in tables:
        values = conn.execute(
            f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{schema}"."{table}" '
            f'WHERE "{column}" IS NOT NULL').fetchall()
        parts.extend(str(v).upper() for (v,) in values)
    return "\n".join(parts)


# ── a warehouse with the reference tables, shared by the examples of one test ──────────

@dataclass
class Bench:
    """A template warehouse holding only the reference tables: each example gets its own
    copy, so no example is "the same bytes as an earlier submission" of another."""

    root: Path
    template: Path
    counter: Iterator[int]

    def settings(self, landing: Path, warehouse: Path) -> Any:
        from pipelines.settings import ImfSettings

        return ImfSettings(landing_dir=str(landing), warehouse=str(warehouse),
                           publish_dir=str(self.root / "published"), pseudonym_key=TEST_KEY)


def load_reference(conn: duckdb.DuckDBPyConnection) -> None:
    """What the reference asset writes (ref.*), without Dagster."""
    from pipelines.reference.assets import SEED_TABLES, read_seed
    from pipelines.reference.links import current_urns

    conn.execute("CREATE SCHEMA IF NOT EXISTS ref")
    frames = {name: read_seed(name) for name in SEED_TABLES}
    frames["urn_current"] = current_urns(frames["schools"], frames["gias_links"])
    for name, frame in frames.items():
        conn.register("seed_frame", frame.to_arrow())
        conn.execute(f"CREATE OR REPLACE TABLE ref.{name} AS SELECT * FROM seed_frame")
        conn.unregister("seed_frame")


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    root = tmp_path_factory.mktemp("fuzz")
    with duckdb.connect(str(root / "template.duckdb")) as conn:
        load_reference(conn)
        conn.execute("CHECKPOINT")
    yield Bench(root, root / "template.duckdb", itertools.count())


def good_companion(source: str, n: int) -> bytes:
    """A good file, different bytes every time (so it is never a duplicate submission)."""
    builders = {
        "spend": lambda: [mc.spend(description=f"companion {n}")],
        "allocations": lambda: [mc.allocation(urn=mc.URN_B, allocation_gbp=f"{n}.00")],
        "outcomes": lambda: [mc.outcome(urn=mc.URN_C, sessions_attended=str(n % 380))],
        "voice": lambda: [mc.voice(respondent_id=f"companion-{n}")],
    }
    return mc.csv_bytes(source, builders[source]())


def ingest_and_check(bench: Bench, source: str, name: str, data: bytes) -> dict[str, Any]:
    """Drop `data` as `<source>/<name>` beside a good file, ingest, check every invariant."""
    from pipelines.sources.specs import ingest_source

    n = next(bench.counter)
    landing = bench.root / f"landing-{n}"
    (landing / source).mkdir(parents=True)
    warehouse = bench.root / f"w-{n}.duckdb"
    shutil.copyfile(bench.template, warehouse)
    (landing / source / name).write_bytes(data)
    companion = good_companion(source, n)
    (landing / source / "zz_companion.csv").write_bytes(companion)

    with duckdb.connect(str(warehouse)) as conn:
        summary = ingest_source(source, bench.settings(landing, warehouse), conn)
        result = check_outcome(conn, summary, landing, source, name, data, companion)
    warehouse.unlink()
    shutil.rmtree(landing)
    return result


def check_outcome(conn: duckdb.DuckDBPyConnection, summary: Any, landing: Path, source: str,
                  name: str, data: bytes, companion: bytes) -> dict[str, Any]:
    outcomes = {f.file_name: f for f in summary.files}
    assert set(outcomes) == {name, "zz_companion.csv"}
    mine, other = outcomes[name], outcomes["zz_companion.csv"]
    assert other.status == "loaded" and other.rows_read == 1 and other.rows_loaded == 1, other
    assert mine.status in ("loaded", "refused"), mine
    sid = hashlib.sha256(data).hexdigest()
    assert mine.submission_id == sid
    if mine.status == "refused":
        assert mine.reason and name in mine.reason
        kept = landing / "_refused" / source / name
        assert kept.read_bytes() == data
        assert not (landing / source / name).exists()
    log = conn.execute(
        "SELECT status, rows_read, rows_loaded, rows_quarantined FROM audit.submission_log "
        "WHERE submission_id = ?", [sid]).fetchall()
    assert len(log) == 1
    status, read, loaded, quarantined = log[0]
    raw_rows = [r for (r,) in conn.execute(
        f"SELECT row_number FROM raw.{source} WHERE submission_id = ?", [sid]).fetchall()]
    held = [r for (r,) in conn.execute(
        "SELECT row_number FROM audit.quarantine_rows WHERE submission_id = ?",
        [sid]).fetchall()]
    assert len(raw_rows) == len(set(raw_rows)) and len(held) == len(set(held))
    assert not set(raw_rows) & set(held)
    if status == "loaded":
        assert (read, loaded, quarantined) == (len(raw_rows) + len(held), len(raw_rows),
                                               len(held))
        reasons = {r for (r,) in conn.execute(
            "SELECT DISTINCT row_number FROM audit.quarantine WHERE submission_id = ?",
            [sid]).fetchall()}
        assert reasons == set(held), "a quarantined row without a reason, or vice versa"
    else:
        assert raw_rows == [] and held == []
    upns = valid_upns_in(data) | valid_upns_in(companion)
    if upns:
        text = warehouse_text(conn)
        leaked = sorted(u for u in upns if u in text)
        assert not leaked, f"UPNs in clear in the warehouse: {leaked}"
    event(f"{source}: {mine.status} {mine.refusal_kind or ''}".strip())
    if mine.status == "loaded":
        event("rows quarantined" if mine.rows_quarantined else "no row quarantined")
    return {"status": mine.status, "kind": mine.refusal_kind}


# ── strategies ──────────────────────────────────────────────────────────────────────────

HOSTILE = [
    "", " ", ",", '"', '""', "\n", "\r\n", "\x00", "\x1b[2J", "=1+1", "=HYPERLINK(\"x\")",
    "@SUM(A1)", "'; DROP TABLE raw.spend; --", "../../etc/passwd", "£", "é", "\ufeff",
    "NaN", "inf", "-0", "1e309", "9" * 40, "2025/26", "2026-02-29", "31/12/2025", "Y", "n",
    "null", "None", "K", "E", "R", "N1", "P_BEL_1", "other", "autumn", "111577", "999999",
    "\u202e", "\ud7ff", "🙂",
]


def upn_text() -> st.SearchStrategy[str]:
    return st.integers(0, 999).map(lambda s: mc.make_upn(s)) | st.integers(0, 999).map(
        lambda s: mc.make_upn(s).lower())


cell_text = st.one_of(
    st.sampled_from(HOSTILE), upn_text(),
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.integers(-10**6, 10**7).map(str), st.decimals(-1000, 10**7, places=3).map(str),
)


@st.composite
def base_rows(draw: st.DrawFn, source: str) -> list[dict[str, str]]:
    makers = {
        "spend": [mc.spend, lambda: mc.spend(category="other", description="x")],
        "allocations": [mc.allocation],
        "outcomes": [mc.outcome, mc.outcome_k, mc.leaver_y11],
        "voice": [mc.voice, mc.parent],
    }[source]
    n = draw(st.integers(1, 6))
    rows = []
    for _ in range(n):
        row = dict(draw(st.sampled_from(makers))())
        if source == "outcomes":
            row["upn"] = mc.make_upn(draw(st.integers(0, 999)))
        for column in draw(st.lists(st.sampled_from(mc.COLUMNS[source]), max_size=3)):
            row[column] = draw(cell_text)
        rows.append(row)
    return rows


BYTE_JUNK = st.one_of(
    st.binary(max_size=12), st.sampled_from(
        [b",", b'"', b"\r\n", b"\n", b"\0", b"\xff\xfe", b"\xef\xbb\xbf", b"\x81", b"\xa3",
         b"\xc3", b'",,"', b'"\n"']))


@st.composite
def mutated_csv(draw: st.DrawFn) -> tuple[str, bytes]:
    source = draw(st.sampled_from(SOURCES))
    columns = list(mc.COLUMNS[source])
    if draw(st.booleans()):
        columns = draw(st.permutations(columns))
    if draw(st.integers(0, 9)) == 0:
        columns = [*columns, draw(st.sampled_from(columns))]  # a duplicated header
    if draw(st.integers(0, 9)) == 0:
        columns.remove(draw(st.sampled_from(columns)))  # a missing column
    rows = draw(base_rows(source))
    text = mc.csv_text(columns, rows, newline=draw(st.sampled_from(["\r\n", "\n"])))
    encoding = draw(st.sampled_from(["utf-8"] * 5 + ["utf-8-sig", "cp1252", "cp1252", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["insert", "delete", "truncate", "dupline", "flip"]))
        if not data:
            break
        at = draw(st.integers(0, len(data)))
        if op == "insert":
            data = data[:at] + draw(BYTE_JUNK) + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 20)):]
        elif op == "truncate":
            data = data[:at]
        elif op == "dupline":
            lines = data.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            data = b"\n".join([*lines[: i + 1], lines[i], *lines[i + 1:]])
        elif at < len(data):
            data = data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1:]
    return source, data


XLSX_CELL = st.one_of(
    st.none(), cell_text, st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10**12, 10**12), st.booleans(),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),
    st.tuples(st.just("formula"), cell_text))


@st.composite
def fuzzed_xlsx(draw: st.DrawFn) -> tuple[str, bytes]:
    source = draw(st.sampled_from(SOURCES))
    rows = draw(base_rows(source))
    columns = mc.COLUMNS[source]
    overrides = draw(st.lists(st.tuples(st.integers(1, len(rows)),
                                        st.integers(0, len(columns) - 1), XLSX_CELL),
                              max_size=6))
    extra_sheet = draw(st.booleans())

    def build(workbook: xlsxwriter.Workbook) -> None:
        sheet = workbook.add_worksheet("Data")
        mc._sheet_rows(sheet, columns, rows)
        for r, c, value in overrides:
            if value is None:
                sheet.write_blank(r, c, None)
            elif isinstance(value, tuple):
                sheet.write_formula(r, c, "=" + "A1&\"x\"", None, value[1])
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, (int, float)):
                if value != value or value in (float("inf"), float("-inf")):
                    sheet.write_string(r, c, str(value))
                else:
                    sheet.write_number(r, c, value)
            elif isinstance(value, str):
                sheet.write_string(r, c, value[:32767])
            else:
                sheet.write_datetime(r, c, value, workbook.add_format(
                    {"num_format": "dd/mm/yyyy"}))
        if extra_sheet:
            other = workbook.add_worksheet("Notes")
            other.write_row(0, 0, ["upn", "note"])
            other.write_row(1, 0, [mc.make_upn(998), "not part of the return"])

    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False})
    build(workbook)
    workbook.close()
    return source, out.getvalue()


# ── the properties ──────────────────────────────────────────────────────────────────────

@settings(settings.get_profile(PROFILE))
@given(example=mutated_csv())
def test_mutated_csv_never_crashes_loses_or_leaks(bench: Bench,
                                                  example: tuple[str, bytes]) -> None:
    source, data = example
    ingest_and_check(bench, source, "mutated.csv", data)


@settings(settings.get_profile(PROFILE), max_examples=XLSX_EXAMPLES)
@given(example=fuzzed_xlsx())
def test_fuzzed_workbooks_never_crash_lose_or_leak(bench: Bench,
                                                   example: tuple[str, bytes]) -> None:
    source, data = example
    ingest_and_check(bench, source, "fuzzed.xlsx", data)


@settings(settings.get_profile(PROFILE), max_examples=BYTES_EXAMPLES)
@given(data=st.binary(min_size=0, max_size=4096), name=st.sampled_from(
    ["random.csv", "random.xlsx", "random.CSV", "random.txt", "random"]))
def test_arbitrary_bytes_are_refused_or_loaded_never_crash(bench: Bench, data: bytes,
                                                           name: str) -> None:
    source = SOURCES[len(data) % 4]
    result = ingest_and_check(bench, source, name, data)
    if not name.lower().endswith((".csv", ".xlsx")):
        assert (result["status"], result["kind"]) == ("refused", "wrong_extension")


def test_property_inputs_contain_upns() -> None:
    """The UPN invariant is not vacuous: the strategies do put valid UPNs in the inputs."""
    example = mc.csv_bytes("outcomes", [mc.outcome(upn=mc.make_upn(5)),
                                        mc.outcome(upn=mc.make_upn(6).lower())])
    assert valid_upns_in(example) == {mc.make_upn(5), mc.make_upn(6)}
    assert valid_upns_in(example.decode().encode("utf-16")) == {mc.make_upn(5), mc.make_upn(6)}
