"""The next new file is fingerprinted, read and checked while this one is written
(pipelines/ingest/pipeline.py, `_ReadAhead`): the warehouse must end up exactly as if each
file had been ingested on its own, and nothing read ahead may outlive the run.

Six outcome files, in the order ingest takes them (by name). By hand:

- a_first.csv: pupils 1-3 of the Aldgate School, 2025/26: loaded, 3 rows;
- b_no_upn.csv: no `upn` column: refused (missing_column);
- c_copy.csv: the same bytes as a_first.csv: not loaded again (duplicate);
- d_resubmit.csv: pupils 1-2 of the same school-year, a later mtime: loaded, 2 rows, and it
  becomes the current submission for that school-year (a_first.csv is superseded by it);
- e_chunks.csv: seven pupils of another school, one with an unknown SEN code, read in
  chunks of three rows: loaded, 7 read, 6 loaded, 1 quarantined;
- f_binary.csv: not text: refused (unreadable_file).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from conftest import ImfEnv
from ingest.fixtures import ref_template, wh  # noqa: F401
from ingest.support import URN, URN_2, contents, csv_bytes, ingest, query, row, upn, write

import pipelines.ingest.pipeline as pipeline

FIRST = csv_bytes([row("outcomes", upn=upn(n)) for n in (1, 2, 3)])
NO_UPN = csv_bytes([{k: v for k, v in row("outcomes").items() if k != "upn"}])
RESUBMIT = csv_bytes([row("outcomes", upn=upn(n), suspensions="0") for n in (1, 2)])
CHUNKS = csv_bytes([row("outcomes", urn=str(URN_2), upn=upn(n),
                        sen_provision="X" if n == 14 else "K") for n in range(10, 17)])
FILES = [  # name, bytes, mtime
    ("a_first.csv", FIRST, 1_780_000_000),
    ("b_no_upn.csv", NO_UPN, 1_780_000_000),
    ("c_copy.csv", FIRST, 1_780_000_000),
    ("d_resubmit.csv", RESUBMIT, 1_780_100_000),
    ("e_chunks.csv", CHUNKS, 1_780_000_000),
    ("f_binary.csv", bytes(range(256)) * 40, 1_780_000_000),
]

def _land(landing: Path, files: list[tuple[str, bytes, int]]) -> None:
    for name, data, mtime in files:
        write(landing, "outcomes", name, data, mtime=mtime)


def _working_folders(imf_env: ImfEnv) -> list[Path]:
    return sorted(imf_env.warehouse.parent.glob("imf-ingest-*"))


def test_one_run_equals_each_file_on_its_own(
        imf_env: ImfEnv, wh: Path, ref_template: Path) -> None:  # noqa: F811
    _land(imf_env.landing, FILES)
    summary = ingest("outcomes", wh, chunk_rows=3)
    assert [(f.file_name, f.status, f.refusal_kind) for f in summary.files] == [
        ("a_first.csv", "loaded", None),
        ("b_no_upn.csv", "refused", "missing_column"),
        ("c_copy.csv", "duplicate", None),
        ("d_resubmit.csv", "loaded", None),
        ("e_chunks.csv", "loaded", None),
        ("f_binary.csv", "refused", "unreadable_file"),
    ]
    together = contents(wh)
    assert [(r[0], r[1], r[2]) for r in together["units"]] == [
        ("a_first.csv", URN, "2025/26"), ("d_resubmit.csv", URN, "2025/26"),
        ("e_chunks.csv", URN_2, "2025/26")]
    assert [(r[0], r[4], r[5]) for r in together["units"]] == [
        ("a_first.csv", False, "d_resubmit.csv"), ("d_resubmit.csv", True, None),
        ("e_chunks.csv", True, None)]
    assert [r[:6] for r in together["log"] if r[1] == "loaded"] == [
        ("a_first.csv", "loaded", None, 3, 3, 0), ("d_resubmit.csv", "loaded", None, 2, 2, 0),
        ("e_chunks.csv", "loaded", None, 7, 6, 1)]
    assert [r[:3] for r in together["quarantine"]] == [("e_chunks.csv", 6, "sen_provision")]
    assert _working_folders(imf_env) == []

    # The same files, one per run (nothing to read ahead), into a second warehouse.
    alone = wh.with_name("one_by_one.duckdb")
    shutil.copyfile(ref_template, alone)
    shutil.rmtree(imf_env.landing / "outcomes")
    shutil.rmtree(imf_env.landing / "_refused")
    (imf_env.landing / "outcomes").mkdir()
    for file in FILES:
        _land(imf_env.landing, [file])
        statuses = [f.status for f in ingest("outcomes", alone, chunk_rows=3).files]
        assert statuses.count("unchanged") == len(statuses) - 1  # only the new file is read
    assert contents(alone) == together


def test_new_files_are_read_ahead_and_known_files_not_read(
        imf_env: ImfEnv, wh: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Which thread fingerprints each file: the first new file is read by the run's own
    thread, every later one ahead of its turn; a file seen before is not read at all."""
    read_by: list[tuple[str, str]] = []
    original = pipeline.fingerprint

    def recording(path: Path) -> object:
        read_by.append((path.name, threading.current_thread().name.split("_")[0]))
        return original(path)

    monkeypatch.setattr(pipeline, "fingerprint", recording)
    _land(imf_env.landing, FILES[:1])
    ingest("outcomes", wh)
    assert read_by == [("a_first.csv", "MainThread")]
    read_by.clear()
    _land(imf_env.landing, FILES[3:5])
    assert [f.status for f in ingest("outcomes", wh).files] == ["unchanged", "loaded", "loaded"]
    assert read_by == [("d_resubmit.csv", "MainThread"), ("e_chunks.csv", "imf-read-ahead")]


def test_a_failure_mid_run_leaves_no_working_folder_and_the_loaded_files(
        imf_env: ImfEnv, wh: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Writing fails (a full disk, say) while a file is read ahead: the error reaches the
    caller, the files committed before stay loaded, the file being written left no row,
    and no working folder (each a copy of a file, UPNs in clear) is left behind.

    With chunks of three rows, a_first.csv (3 rows) and d_resubmit.csv (2) are small and
    written together, committed before e_chunks.csv (7 rows, three chunks) is written, and
    writing e_chunks.csv's first chunk fails."""
    original = pipeline.write_chunks
    calls: list[list[str]] = []

    def failing(conn: object, spec: object, results: list[tuple[str, object]]) -> None:
        calls.append([submission_id for submission_id, _ in results])
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        original(conn, spec, results)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "write_chunks", failing)
    _land(imf_env.landing, [FILES[0], FILES[3], FILES[4]])
    with pytest.raises(OSError, match="No space left"):
        ingest("outcomes", wh, chunk_rows=3)
    assert [len(c) for c in calls] == [2, 1]
    assert _working_folders(imf_env) == []
    assert not [t for t in threading.enumerate() if t.name.startswith(("imf-read-ahead",
                                                                        "imf-check"))]
    assert query(wh, "SELECT file_name, status FROM audit.submission_log ORDER BY 1") == [
        ("a_first.csv", "loaded"), ("d_resubmit.csv", "loaded")]
    assert query(wh, "SELECT count(*) FROM raw.outcomes") == [(5,)]


@pytest.mark.parametrize(("sizes", "budget", "ahead"), [
    ([100] * 5, 25, 2),   # big files: two ahead, as always
    ([10] * 5, 25, 2),    # two ahead use 20 of 25 bytes; a third would need 10
    ([1] * 70, 25, 25),   # small files: as many as the bytes allow
    ([0] * 70, 25, 64),   # ... but never more than MAX_READ_AHEAD_FILES
    ([1, 100, 100, 100, 1, 1], 25, 2),  # a tiny file first does not open the gate
])
def test_files_read_ahead_are_bounded_by_their_bytes(
        monkeypatch: pytest.MonkeyPatch, sizes: list[int], budget: int, ahead: int) -> None:
    """How many files are read ahead after the first is taken, by hand from their sizes:
    `READ_AHEAD_FILES` (2) whatever their size, then more while the bytes of all files
    ahead stay within `READ_AHEAD_BYTES`, up to `MAX_READ_AHEAD_FILES` (64)."""

    class Prepared:
        def close(self) -> None:
            pass

    prepared: list[int] = []

    def prepare(run: object, file: SimpleNamespace) -> Prepared:
        prepared.append(file.index)
        return Prepared()

    monkeypatch.setattr(pipeline, "_prepare", prepare)
    monkeypatch.setattr(pipeline, "READ_AHEAD_BYTES", budget)
    files = [SimpleNamespace(index=i, size=size) for i, size in enumerate(sizes)]
    with pipeline._ReadAhead(object(), files) as read_ahead:  # type: ignore[arg-type]
        read_ahead.take(files[0])  # type: ignore[arg-type]
        queued = [cast(SimpleNamespace, f).index for f, _ in read_ahead._ahead]
    assert queued == list(range(1, ahead + 1))
    assert sorted(prepared) == list(range(ahead + 1))  # the first, by this thread
