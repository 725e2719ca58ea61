"""File-system safety of ingest: nothing outside the landing area is read, moved or written.

Each test builds a landing folder next to an "outside" folder holding a file with a valid
UPN in it, points something in the landing area at the outside (a symlink to a file, to a
folder, a source folder that is itself a link, a `_refused` area that is a link), runs the
real ingest, and then checks that the outside is byte-for-byte as it was, that nothing
from it was loaded, and that refused files were kept (moved, never deleted or copied).
Whole-run checks (outputs only under the publish folder) are in test_crash_safety.py,
which runs `imf run` in a subprocess.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from test_fuzz_ingest import load_reference, mc, valid_upns_in, warehouse_text

SOURCES = ("spend", "allocations", "outcomes", "voice")


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under root (links not followed): kind and content hash or link target."""
    out: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", "")
            else:
                out[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return out


@dataclass
class Area:
    root: Path
    landing: Path
    outside: Path
    warehouse: Path
    secret_upn: str

    def ingest(self) -> dict[str, list]:
        from pipelines.settings import ImfSettings
        from pipelines.sources.specs import ingest_source

        settings = ImfSettings(landing_dir=str(self.landing), warehouse=str(self.warehouse),
                               publish_dir=str(self.root / "published"),
                               pseudonym_key="fs-safety-key")
        with duckdb.connect(str(self.warehouse)) as conn:
            return {s: ingest_source(s, settings, conn).files for s in SOURCES}

    def log(self) -> dict[str, tuple[str, str | None]]:
        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            return {f"{s}/{f}": (status, kind) for s, f, status, kind in conn.execute(
                "SELECT source, file_name, status, refusal_kind FROM audit.submission_log"
            ).fetchall()}

    def warehouse_holds(self, needle: str) -> bool:
        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            return needle.upper() in warehouse_text(conn)


OUTSIDE_MARK = "read-from-outside-the-landing-area"


@pytest.fixture(scope="module")
def template_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding only the reference tables, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        load_reference(conn)
        conn.execute("CHECKPOINT")
    return path


@pytest.fixture
def area(tmp_path: Path, template_warehouse: Path) -> Iterator[Area]:
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    for source in SOURCES:
        (landing / source).mkdir(parents=True)
    outside.mkdir()
    secret = mc.make_upn(321)
    (outside / "secret_spend.csv").write_bytes(mc.csv_bytes("spend", [
        mc.spend(description=OUTSIDE_MARK)]))
    (outside / "secret_pupils.csv").write_bytes(mc.csv_bytes("outcomes", [
        mc.outcome(upn=secret, primary_need="")]))
    (outside / "bad.csv").write_bytes(b"not,a,return\r\n1,2,3\r\n")
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(template_warehouse, warehouse)
    # A good file, so every run has something real to do.
    (landing / "spend" / "good.csv").write_bytes(
        (Path(__file__).parent / "corpus" / "spend" / "good_trust_return.csv").read_bytes())
    yield Area(tmp_path, landing, outside, warehouse, secret)


def test_symlink_to_a_file_outside_is_refused_not_followed(area: Area) -> None:
    before = snapshot(area.outside)
    (area.landing / "spend" / "linked.csv").symlink_to(area.outside / "secret_spend.csv")
    (area.landing / "outcomes" / "pupils.csv").symlink_to(area.outside / "secret_pupils.csv")
    (area.landing / "spend" / "relative.csv").symlink_to(
        Path("..") / ".." / "outside" / "secret_spend.csv")
    area.ingest()
    assert snapshot(area.outside) == before
    log = area.log()
    for name in ("spend/linked.csv", "outcomes/pupils.csv", "spend/relative.csv"):
        assert log[name] == ("refused", "unsafe_path"), name
        kept = area.landing / "_refused" / name.split("/")[0] / name.split("/")[1]
        assert kept.is_symlink(), f"{name}: the link itself must be kept, not its target"
    assert log["spend/good.csv"][0] == "loaded"
    assert not area.warehouse_holds(OUTSIDE_MARK)
    assert not area.warehouse_holds(area.secret_upn)


def test_symlinked_folder_inside_a_source_is_not_entered(area: Area) -> None:
    before = snapshot(area.outside)
    (area.landing / "spend" / "more").symlink_to(area.outside, target_is_directory=True)
    area.ingest()
    assert snapshot(area.outside) == before
    assert not area.warehouse_holds(OUTSIDE_MARK)
    assert set(area.log()) <= {"spend/good.csv", "spend/more"}


def test_source_folder_that_is_a_link_outside_is_not_read_or_emptied(area: Area) -> None:
    """landing/outcomes -> outside/: its files are outside the landing area. Reading them
    would load data from anywhere; refusing them would *move files out of* a folder the
    pipeline does not own. Neither may happen."""
    before = snapshot(area.outside)
    (area.landing / "outcomes").rmdir()
    (area.landing / "outcomes").symlink_to(area.outside, target_is_directory=True)
    area.ingest()
    assert snapshot(area.outside) == before, "files outside the landing area were changed"
    assert not area.warehouse_holds(area.secret_upn)
    assert not area.warehouse_holds(OUTSIDE_MARK)


def test_refused_area_that_is_a_link_outside_is_not_written_through(area: Area) -> None:
    """landing/_refused -> outside/: refusing a file must not move it out of the landing
    area (the refused file would leave the LA's controlled store)."""
    before = snapshot(area.outside)
    (area.landing / "_refused").symlink_to(area.outside, target_is_directory=True)
    (area.landing / "spend" / "garbage.txt").write_bytes(b"refuse me")
    area.ingest()
    assert snapshot(area.outside) == before, "a refused file was moved outside the landing area"
    # And it was not deleted: its bytes are still somewhere under the landing area.
    kept = [p for p in area.landing.rglob("*") if p.is_file() and not p.is_symlink()
            and p.read_bytes() == b"refuse me"]
    assert kept, "the refused file was deleted"


@pytest.mark.parametrize("name", [
    "..csv_trick.csv", "a..b.csv", "..\\..\\evil.csv", "-rf.csv", "$(touch pwned).csv",
    "name with spaces and ünïcödé.csv", "new\nline.csv", "x" * 240 + ".csv",
    "'; DROP TABLE audit.submission_log; --.csv",
])
def test_hostile_file_names_stay_inside_and_are_kept(area: Area, name: str) -> None:
    data = mc.csv_bytes("spend", [mc.spend(description=f"named {name[:20]!r}")])
    (area.landing / "spend" / name).write_bytes(data)
    refused_data = b"refuse " + name.encode()
    (area.landing / "voice" / (name[:-4] + ".txt")).write_bytes(refused_data)
    outside_before = snapshot(area.outside)
    area.ingest()
    assert snapshot(area.outside) == outside_before
    assert not (area.root / "pwned").exists() and not Path("pwned").exists()
    # Every byte dropped is still under the landing area: loaded files where they were,
    # refused ones in _refused/voice/, nothing written beside the landing folder.
    everything = {p.read_bytes() for p in area.landing.rglob("*") if p.is_file()}
    assert refused_data in everything
    assert sorted(p.name for p in area.root.iterdir()) == sorted(
        ["landing", "outside", "warehouse.duckdb", *(
            [p.name for p in area.root.iterdir() if p.name.startswith("warehouse.duckdb.")])])
    hidden = name.startswith(".")
    log = area.log()
    if not hidden:
        assert log[f"spend/{name}"][0] == "loaded"
        assert log[f"voice/{name[:-4]}.txt"] == ("refused", "wrong_extension")
        assert (area.landing / "_refused" / "voice" / (name[:-4] + ".txt")).read_bytes() \
            == refused_data
    with duckdb.connect(str(area.warehouse), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM audit.submission_log").fetchone() is not None


def test_refused_files_survive_reruns_untouched(area: Area) -> None:
    for name, data in {"spend/empty.csv": b"", "voice/notes.txt": b"notes",
                       "allocations/x.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64,
                       "outcomes/bad.xlsx": b"PK\x03\x04 truncated"}.items():
        (area.landing / name).write_bytes(data)
    area.ingest()
    refused = area.landing / "_refused"
    first = snapshot(refused)
    assert len([v for v in first.values() if v[0] == "file"]) == 4
    log = area.log()
    area.ingest()
    area.ingest()
    assert snapshot(refused) == first
    assert area.log() == log


def test_a_file_swapped_for_a_link_after_discovery_is_not_followed(
        area: Area, monkeypatch: pytest.MonkeyPatch) -> None:
    """Time-of-check/time-of-use: the file is replaced by a link to an outside file between
    discovery and reading. Opening must not follow the new link."""
    import pipelines.ingest.files as files

    victim = area.landing / "spend" / "swapped.csv"
    victim.write_bytes(mc.csv_bytes("spend", [mc.spend(description="the real return")]))
    original = files.discover

    def discover_then_swap(landing: Path, source: str) -> tuple[list, list[str]]:
        found = original(landing, source)
        if source == "spend" and victim.exists() and not victim.is_symlink():
            victim.unlink()
            victim.symlink_to(area.outside / "secret_spend.csv")
        return found

    monkeypatch.setattr(files, "discover", discover_then_swap)
    import pipelines.ingest.pipeline as pipeline

    monkeypatch.setattr(pipeline, "discover", discover_then_swap)
    (area.landing / "spend" / "zz_after.csv").write_bytes(
        mc.csv_bytes("spend", [mc.spend(description="a file after the swapped one")]))
    before = snapshot(area.outside)
    area.ingest()  # must not raise: the swapped file is refused or skipped, others load
    assert snapshot(area.outside) == before
    assert not area.warehouse_holds(OUTSIDE_MARK)
    assert area.log()["spend/zz_after.csv"][0] == "loaded"


def test_outside_fixture_really_holds_a_upn() -> None:
    """The leak checks above look for something that is there to leak."""
    data = mc.csv_bytes("outcomes", [mc.outcome(upn=mc.make_upn(321))])
    assert valid_upns_in(data) == {mc.make_upn(321)}
