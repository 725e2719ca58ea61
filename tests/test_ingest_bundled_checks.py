"""Small files' chunks are checked together (pipelines/ingest/checker.py) and written
together (`_Batch` in pipelines/ingest/pipeline.py): fewer Pandera calls and
transactions, and the warehouse exactly as if each file had been ingested on its own.

Eight outcome files of the Aldgate School, pupils numbered apart, later files later. By
hand, the rows quarantined (row numbers as a spreadsheet shows them, header = 1):

- f0, f6: none;
- f1: row 3 (`sen_provision` X is not a code);
- f2: rows 2 and 3 (the same UPN twice);
- f3: row 2 (a value beyond the last column);
- f4: row 2 (more sessions attended than possible);
- f5: row 2 (a URN not in the register);
- f7: row 3 (a UPN whose check letter is wrong).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
from conftest import ImfEnv
from ingest.fixtures import ref_template, wh  # noqa: F401
from ingest.support import contents, csv_bytes, ingest, query, row, upn, write

import pipelines.ingest.pipeline as pipeline
import pipelines.ingest.validate as validate
from pipelines.ingest.checker import ChunkChecker
from pipelines.ingest.loaded_line import LoadedLine
from pipelines.ingest.parsers import ROW
from pipelines.ingest.validate import ChunkResult


def _files() -> list[tuple[str, bytes]]:
    def pupils(first: int, count: int) -> list[dict[str, str]]:
        return [row("outcomes", upn=upn(n)) for n in range(first, first + count)]

    f1 = pupils(110, 3)
    f1[1]["sen_provision"] = "X"
    f2 = pupils(120, 3)
    f2[1]["upn"] = f2[0]["upn"]
    f3 = csv_bytes(pupils(130, 2)).replace(b"Y,N\r\n", b"Y,N,surplus\r\n", 1)
    f4 = pupils(140, 2)
    f4[0]["sessions_attended"] = "381"
    f5 = pupils(150, 2)
    f5[0]["urn"] = "999999"
    f7 = pupils(170, 2)
    f7[1]["upn"] = "Z" + f7[1]["upn"][1:]
    return [("f0.csv", csv_bytes(pupils(100, 2))), ("f1.csv", csv_bytes(f1)),
            ("f2.csv", csv_bytes(f2)), ("f3.csv", f3), ("f4.csv", csv_bytes(f4)),
            ("f5.csv", csv_bytes(f5)), ("f6.csv", csv_bytes(pupils(160, 3))),
            ("f7.csv", csv_bytes(f7))]


def _land(landing: Path, files: list[tuple[str, bytes]]) -> None:
    for i, (name, data) in enumerate(files):
        write(landing, "outcomes", name, data, mtime=1_780_000_000 + i)


@pytest.mark.parametrize(("batch_files", "bundle_rows", "written"), [
    (256, 50_000, [8]),  # all eight in one transaction
    (3, 50_000, [3, 3, 2]),  # at most three files a transaction
    (256, 5, [2, 2, 3, 1]),  # at most five rows: f0+f1, f2+f3, f4+f5+f6, f7
])
def test_small_files_checked_and_written_together_load_as_each_alone(
        imf_env: ImfEnv, wh: Path, ref_template: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, batch_files: int, bundle_rows: int,
        written: list[int]) -> None:
    """By hand, the files' rows: 2, 3, 3, 2, 2, 2, 3, 2."""
    calls: list[int] = []
    original = validate._contract_failures

    def counting(typed: pl.DataFrame, *args: object) -> pl.DataFrame:
        calls.append(typed.height)
        return original(typed, *args)  # type: ignore[arg-type]

    writes: list[int] = []  # files per write of checked rows (one per transaction)
    write_chunks = pipeline.write_chunks

    def counting_writes(conn: object, spec: object, results: list[object]) -> None:
        writes.append(len(results))
        write_chunks(conn, spec, results)  # type: ignore[arg-type]

    monkeypatch.setattr(validate, "_contract_failures", counting)
    monkeypatch.setattr(pipeline, "write_chunks", counting_writes)
    monkeypatch.setattr(pipeline, "BATCH_FILES", batch_files)
    monkeypatch.setattr(pipeline, "BUNDLE_ROWS", bundle_rows)
    files = _files()
    _land(imf_env.landing, files)
    summary = ingest("outcomes", wh)
    assert [(f.file_name, f.status) for f in summary.files] == [(n, "loaded") for n, _ in files]
    assert writes == written
    # Eight files' 19 rows in fewer Pandera calls than files (how many depends on how far
    # reading ahead got while the first file was written).
    assert sum(calls) == 19 and len(calls) < len(files)
    together = contents(wh)
    assert sorted({(r[0], r[1]) for r in together["quarantine"]}) == [
        ("f1.csv", 3), ("f2.csv", 2), ("f2.csv", 3), ("f3.csv", 2), ("f4.csv", 2),
        ("f5.csv", 2), ("f7.csv", 3)]
    assert [(r[0], r[3], r[4], r[5]) for r in together["log"]] == [
        ("f0.csv", 2, 2, 0), ("f1.csv", 3, 2, 1), ("f2.csv", 3, 1, 2), ("f3.csv", 2, 1, 1),
        ("f4.csv", 2, 1, 1), ("f5.csv", 2, 1, 1), ("f6.csv", 3, 3, 0), ("f7.csv", 2, 1, 1)]
    # No UPN in clear anywhere a quarantined row is kept.
    assert not [r for r in together["quarantine_rows"] if upn(171)[1:] in r[2]]

    # The same files, one per run, checked and written one at a time, into a second
    # warehouse.
    calls.clear()
    writes.clear()
    alone = wh.with_name("one_by_one.duckdb")
    shutil.copyfile(ref_template, alone)
    shutil.rmtree(imf_env.landing / "outcomes")
    (imf_env.landing / "outcomes").mkdir()
    for i in range(len(files)):
        _land(imf_env.landing, files[:i + 1])
        assert [f.status for f in ingest("outcomes", alone).files][-1] == "loaded"
    assert len(calls) == len(writes) == len(files)
    assert contents(alone) == together
    assert query(alone, "SELECT count(*) FROM raw.outcomes") == [(12,)]


def _chunk(rows: range) -> pl.DataFrame:
    return pl.DataFrame({ROW: list(rows)}, schema={ROW: pl.Int64})


def _result(chunk: pl.DataFrame) -> ChunkResult:
    return ChunkResult(chunk, pl.DataFrame(), pl.DataFrame(), pl.DataFrame())


def test_a_bundle_that_fails_is_checked_chunk_by_chunk() -> None:
    """A chunk whose check raises takes only its own file down: the bundle it was in is
    checked again one chunk at a time. A held chunk asked for is sent at once (no wait for
    the bundle to fill), and a chunk as big as a bundle is never held."""
    calls: list[int] = []  # chunks per call of the check

    def check(members: Sequence[tuple[pl.DataFrame, pl.Series]]) -> list[ChunkResult]:
        calls.append(len(members))
        if any(chunk.get_column(ROW).to_list() == [7] for chunk, _ in members):
            raise ValueError("row 7 breaks the check")
        return [_result(chunk) for chunk, _ in members]

    none = pl.Series(ROW, [], dtype=pl.Int64)
    with ChunkChecker(check, bundle_rows=5) as checker:
        first = checker.submit(_chunk(range(2, 4)), none)
        assert first.result(timeout=10).good.height == 2  # held alone, sent when asked
        assert calls == [1]
        good = checker.submit(_chunk(range(2, 4)), none)
        bad = checker.submit(_chunk(range(7, 8)), none)
        assert calls == [1]  # 3 rows held, below the bundle's 5
        later = checker.submit(_chunk(range(2, 4)), none)  # 5 rows: the bundle is sent
        assert good.result(timeout=10).good.height == 2
        with pytest.raises(ValueError, match="row 7"):
            bad.result(timeout=10)
        assert later.result(timeout=10).good.height == 2
        assert calls == [1, 3, 1, 1, 1]  # the bundle failed, then each chunk alone
        big = checker.submit(_chunk(range(2, 9)), none)
        assert big.result(timeout=10).good.height == 7
        assert calls == [1, 3, 1, 1, 1, 1]  # never held
    assert not [t for t in threading.enumerate() if t.name.startswith("imf-check")]


@pytest.mark.parametrize("every_s", [3600.0, 0.0])
def test_many_files_each_named_in_fewer_lines(
        imf_env: ImfEnv, wh: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        every_s: float) -> None:
    """With LOADED_LINES = 2: the first two loaded files get a line each and a refusal
    always does; the later files are named together, in a line as often as
    PROGRESS_EVERY_S allows, and the last line sums them. By hand: f0..f7 hold 19 rows,
    12 loaded, 7 quarantined."""
    monkeypatch.setattr(pipeline, "LOADED_LINES", 2)
    monkeypatch.setattr(pipeline, "PROGRESS_EVERY_S", every_s)
    files = _files()
    no_upn = csv_bytes([{k: v for k, v in row("outcomes").items() if k != "upn"}])
    _land(imf_env.landing, [*files[:3], ("f2b_no_upn.csv", no_upn), *files[3:]])
    lines: list[str] = []
    ingest("outcomes", wh, progress=lines.append)
    later = [f"outcomes/{name}" for name in (
        "f2.csv (3 rows, 2 quarantined)", "f3.csv (2 rows, 1 quarantined)",
        "f4.csv (2 rows, 1 quarantined)", "f5.csv (2 rows, 1 quarantined)",
        "f6.csv (3 rows)", "f7.csv (2 rows, 1 quarantined)")]
    if every_s:  # all six in the last line
        named = [f"✓ outcomes: 6 more files loaded (8 of 9 new): {', '.join(later)}"]
    else:  # one line each, as soon as it is loaded
        named = [f"✓ outcomes: 1 more files loaded ({n + 3} of 9 new): {name}"
                 for n, name in enumerate(later)]
    refusal = next(line for line in lines if line.startswith("✗"))
    assert lines == [
        "✓ outcomes/f0.csv: 2 rows read, 2 loaded, 0 quarantined",
        "✓ outcomes/f1.csv: 3 rows read, 2 loaded, 1 quarantined",
        *(named[:1] if not every_s else []),
        refusal,
        *(named[1:] if not every_s else named),
        "✓ outcomes: 8 files loaded: 19 rows read, 12 loaded, 7 quarantined",
    ]
    assert refusal.startswith("✗ outcomes/f2b_no_upn.csv refused:") and "upn" in refusal
    # The command line's progress reads the same counts back off these lines.
    assert LoadedLine.parse(named[-1]) == LoadedLine("outcomes", 1 if not every_s else 6, 8, 9)


def test_a_file_whose_check_fails_is_refused_and_the_rest_of_its_batch_loads(
        imf_env: ImfEnv, wh: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """f0, f1 and f6 wait to be written together; checking f1's rows raises a Polars
    error (as malformed text found part-way would). f1 alone is refused, as unreadable,
    after f0 and f6 are committed; its bytes are moved to the refused area."""
    original = validate._contract_failures
    f1_upns = {upn(n) for n in range(110, 113)}  # as the contract sees them, before HMAC

    def failing(typed: pl.DataFrame, *args: object) -> pl.DataFrame:
        if f1_upns & set(typed.get_column("upn").to_list()):
            raise pl.exceptions.ComputeError("cannot check these rows")
        return original(typed, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(validate, "_contract_failures", failing)
    files = _files()
    _land(imf_env.landing, [files[0], files[1], files[6]])
    summary = ingest("outcomes", wh)
    assert [(f.file_name, f.status, f.refusal_kind) for f in summary.files] == [
        ("f0.csv", "loaded", None), ("f1.csv", "refused", "unreadable_file"),
        ("f6.csv", "loaded", None)]
    assert query(wh, "SELECT file_name, status, rows_loaded FROM audit.submission_log "
                     "ORDER BY file_name") == [
        ("f0.csv", "loaded", 2), ("f1.csv", "refused", 0), ("f6.csv", "loaded", 3)]
    assert query(wh, "SELECT count(*) FROM raw.outcomes") == [(5,)]
    assert (imf_env.landing / "_refused" / "outcomes" / "f1.csv").read_bytes() == files[1][1]


def test_the_same_bytes_as_a_file_waiting_to_be_written_are_not_loaded_twice(
        imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    """f0.csv waits to be written when f0_copy.csv (the same bytes) comes: the copy is a
    duplicate, f0's two rows are loaded once, and both names are remembered."""
    files = _files()
    _land(imf_env.landing, [files[0], ("f0_copy.csv", files[0][1]), files[6]])
    summary = ingest("outcomes", wh)
    assert [(f.file_name, f.status) for f in summary.files] == [
        ("f0.csv", "loaded"), ("f0_copy.csv", "duplicate"), ("f6.csv", "loaded")]
    assert query(wh, "SELECT count(*) FROM raw.outcomes") == [(5,)]
    assert query(wh, "SELECT file_name FROM audit.submission_log ORDER BY 1") == [
        ("f0.csv",), ("f6.csv",)]
    assert query(wh, "SELECT file_name FROM audit.landing_files ORDER BY 1") == [
        ("f0.csv",), ("f0_copy.csv",), ("f6.csv",)]


def test_files_written_together_may_type_an_all_null_column_differently() -> None:
    """One file's quarantine values all null (a frame typed Null there), another's text:
    written in one statement, each row under its own submission id."""
    import duckdb

    from pipelines.ingest.store import write_chunks
    from pipelines.ingest.tables import ensure_tables
    from pipelines.sources.specs import SPECS

    def failures(values: list[str | None]) -> ChunkResult:
        frame = pl.DataFrame({ROW: [2] * len(values), "column_name": ["upn"] * len(values),
                              "rule": ["required"] * len(values), "value": values})
        return ChunkResult(pl.DataFrame(), frame, pl.DataFrame(), pl.DataFrame())

    conn = duckdb.connect()
    ensure_tables(conn, SPECS["outcomes"])
    assert failures([None]).failures.schema["value"] == pl.Null
    write_chunks(conn, SPECS["outcomes"], [("s1", failures([None])), ("s2", failures(["x"]))])
    assert conn.execute("SELECT submission_id, source, row_number, value FROM audit.quarantine "
                        "ORDER BY 1").fetchall() == [("s1", "outcomes", 2, None),
                                                     ("s2", "outcomes", 2, "x")]
