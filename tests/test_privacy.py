"""Privacy: no UPN and no pseudonym key in anything the pipeline writes or prints.

Scans every file written by the real `imf run`s of test_crash_safety.py (an uninterrupted
run, and a sequence of runs killed during ingest and during publishing then completed):
the warehouse (every text value of every table, and the file's bytes, WAL included),
Dagster's storage under DAGSTER_HOME (run and event databases, compute logs), the
temporary folder, the published outputs of every kept version (CSV, Parquet, Excel, HTML,
the audit bundle), leftovers of killed runs, and everything the runs printed. It looks for
every valid UPN in the landing files (in any case) and for the key. The landing area and
its `_refused/` folder are the only places UPNs may be (SECURITY.md).

Also: each partnership group's published folder holds only that group's data.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import test_crash_safety as crash
from test_crash_safety import KEY, Baseline, CrashSequence, Env
from test_fuzz_ingest import mc


# The real runs of test_crash_safety.py, built once per session for both files.
@pytest.fixture(scope="session")
def landing_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return crash.session_runs(tmp_path_factory).landing


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    return crash.session_runs(tmp_path_factory).baseline


@pytest.fixture(scope="session")
def crash_sequence(tmp_path_factory: pytest.TempPathFactory) -> CrashSequence:
    return crash.session_runs(tmp_path_factory).crash


UPN_TOKEN = re.compile(rb"(?<![0-9])[A-Za-z][0-9]{12}(?![0-9])")
MAX_MEMBER_BYTES = 512 << 20


def input_upns(landing: Path) -> set[str]:
    """Every valid UPN written in any landing file (CSV text or workbook XML)."""
    found: set[str] = set()
    for path in landing.rglob("*"):
        if not path.is_file():
            continue
        for blob in expand(path.read_bytes()):
            found |= {m.group(0).decode().upper() for m in UPN_TOKEN.finditer(blob)}
    return {u for u in found if mc.is_valid_upn(u)}


def expand(data: bytes) -> Iterator[bytes]:
    """The bytes, and if they are a zip (xlsx), every member's bytes."""
    yield data
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    if info.file_size <= MAX_MEMBER_BYTES:
                        yield archive.read(info)
        except zipfile.BadZipFile:
            pass


def parquet_text(path: Path) -> bytes:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    parts = [str(v) for column in table.columns for v in column.to_pylist() if v is not None]
    parts += [str(table.schema.metadata or "")]
    return "\n".join(parts).encode()


def duckdb_text(path: Path) -> bytes:
    with duckdb.connect(str(path), read_only=True) as conn:
        parts: list[str] = []
        for schema, table, column in conn.execute("""
                SELECT table_schema, table_name, column_name FROM information_schema.columns
                WHERE table_schema NOT IN ('information_schema', 'pg_catalog')""").fetchall():
            parts.extend(str(v) for (v,) in conn.execute(
                f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{schema}"."{table}" '
                f'WHERE "{column}" IS NOT NULL').fetchall())
    return "\n".join(parts).encode()


def readable(path: Path) -> Iterator[bytes]:
    """Every form in which the content of a written file can be read."""
    data = path.read_bytes()
    yield from expand(data)
    if data.startswith(b"PAR1"):
        yield parquet_text(path)
    if path.suffix == ".duckdb":
        yield duckdb_text(path)


def written_files(env: Env) -> list[Path]:
    """Everything under the run's root except the landing area (UPNs allowed there)."""
    return [p for p in env.root.rglob("*")
            if p.is_file() and not p.is_symlink() and env.landing not in p.parents]


def leaks(env: Env, upns: set[str], printed: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    key = KEY.encode()
    for path in written_files(env):
        for blob in readable(path):
            hits = sorted({m.group(0).decode().upper() for m in UPN_TOKEN.finditer(blob)}
                          & upns)
            if key in blob:
                hits.append("<the pseudonym key>")
            if hits:
                found.setdefault(str(path.relative_to(env.root)), []).extend(hits[:5])
    printed_hits = sorted({m.group(0).decode().upper()
                           for m in UPN_TOKEN.finditer(printed.encode())} & upns)
    if KEY in printed:
        printed_hits.append("<the pseudonym key>")
    if printed_hits:
        found["<printed by imf run>"] = printed_hits[:5]
    return found


@pytest.fixture(scope="module")
def upns(landing_template: Path) -> set[str]:
    found = input_upns(landing_template)
    assert len(found) > 100, "the generated landing set should hold many pupils' UPNs"
    return found


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scanner is not blind: it finds a UPN in a CSV, a workbook, a Parquet file and a
    DuckDB table, and the key in a log."""
    import polars as pl

    upn = mc.make_upn(77)
    env = Env(tmp_path)
    (tmp_path / "landing").mkdir()
    (tmp_path / "a.csv").write_text(f"x,{upn.lower()}\n")
    pl.DataFrame({"v": [upn]}).write_parquet(tmp_path / "b.parquet", compression="zstd")
    pl.DataFrame({"v": [upn]}).write_excel(tmp_path / "c.xlsx")
    with duckdb.connect(str(tmp_path / "d.duckdb")) as conn:
        conn.execute("CREATE TABLE t AS SELECT ? AS v FROM range(100000)", [upn])
    (tmp_path / "e.log").write_text(f"key={KEY}\n")
    found = leaks(env, {upn}, "")
    assert set(found) == {"a.csv", "b.parquet", "c.xlsx", "d.duckdb", "e.log"}, found


def test_no_upn_or_key_in_anything_an_uninterrupted_run_writes(baseline: Baseline,
                                                               upns: set[str]) -> None:
    printed = baseline.run.text() + baseline.no_wait.stdout + baseline.no_wait.stderr
    assert leaks(baseline.env, upns, printed) == {}


def test_no_upn_or_key_left_by_killed_runs(crash_sequence: CrashSequence,
                                           upns: set[str]) -> None:
    printed = "\n".join(run.text() for run in crash_sequence.runs)
    assert leaks(crash_sequence.env, upns, printed) == {}


def test_scan_covered_every_kind_of_output(baseline: Baseline) -> None:
    """The scan above saw the warehouse, Dagster's storage and published tables."""
    names = [str(p.relative_to(baseline.env.root)) for p in written_files(baseline.env)]
    assert any(n == "warehouse.duckdb" for n in names)
    assert any(n.startswith("dagster_home/") for n in names)
    assert any(n.startswith("published/") and n.endswith(".csv") for n in names)
    assert any(n.startswith("published/") and n.endswith(".parquet") for n in names)


@pytest.mark.parametrize("failure", ["warehouse_is_a_folder", "write_fails_mid_ingest"])
def test_key_and_upns_not_in_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    failure: str) -> None:
    """Ingest fails (before it starts, or after it has pseudonymised the pupils and is
    writing them): the error Dagster records, its logs and its storage hold neither the
    key nor a UPN."""
    import dagster as dg
    from test_fuzz_ingest import load_reference

    from pipelines.reference.assets import reference_tables
    from pipelines.resources.warehouse import Warehouse
    from pipelines.settings import ImfSettings
    from pipelines.sources.defs import defs as source_defs

    monkeypatch.setenv("IMF_PSEUDONYM_KEY", KEY)
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    (landing / "outcomes").mkdir(parents=True)
    pupils = [mc.outcome(upn=mc.make_upn(400 + i)) for i in range(5)]
    (landing / "outcomes" / "pupils.csv").write_bytes(mc.csv_bytes("outcomes", pupils))
    if failure == "warehouse_is_a_folder":
        warehouse.mkdir()
    else:
        with duckdb.connect(str(warehouse)) as conn:
            load_reference(conn)
            conn.execute("CREATE SCHEMA raw")
            # Not the schema ingest writes: inserting the pseudonymised rows fails.
            conn.execute("CREATE TABLE raw.outcomes (submission_id BIGINT, x INTEGER)")
    settings = ImfSettings(landing_dir=str(landing), warehouse=str(warehouse),
                           publish_dir=str(tmp_path / "published"),
                           pseudonym_key=dg.EnvVar("IMF_PSEUDONYM_KEY"))
    outcomes_asset = next(a for a in source_defs.assets or []
                          if isinstance(a, dg.AssetsDefinition)
                          and dg.AssetKey(["raw", "outcomes"]) in a.keys)
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        result = dg.materialize(
            [reference_tables, outcomes_asset] if failure == "warehouse_is_a_folder"
            else [outcomes_asset],
            instance=instance, raise_on_error=False,
            resources={"settings": settings, "warehouse": Warehouse(path=str(warehouse))})
        assert not result.success, f"the {failure} run was meant to fail"
        text = "\n".join(str(e.event_specific_data) for e in result.all_events)
        text += "\n".join(e.user_message for e in instance.all_logs(result.run_id))
    upns = {row["upn"] for row in pupils}
    assert KEY not in text
    assert not [u for u in upns if u in text.upper()]
    stored = [p for p in home.rglob("*") if p.is_file()]
    assert stored, "Dagster stored nothing to scan"
    for path in stored:
        data = path.read_bytes()
        assert KEY.encode() not in data, path
        assert not [u for u in upns if u.encode() in data.upper()], path


# ── each group's folder holds only that group's data ───────────────────────────────────

def group_folders(env: Env) -> dict[str, Path]:
    groups = (env.publish / "public").resolve() / "groups"
    return {p.name: p for p in sorted(groups.iterdir()) if p.is_dir()} if groups.is_dir() else {}


def test_each_group_folder_holds_only_its_group(baseline: Baseline) -> None:
    env = baseline.env
    folders = group_folders(env)
    assert len(folders) >= 2, "the demo LA has more than one partnership group"
    with duckdb.connect(str(env.warehouse), read_only=True) as conn:
        names = dict(conn.execute(
            "SELECT group_id, group_name FROM ref.partnership_groups").fetchall())
        published = {g for (g,) in conn.execute(
            "SELECT DISTINCT group_id FROM indicators.published_values "
            "WHERE group_id IS NOT NULL").fetchall()}
    assert published <= set(folders), f"groups without a folder: {published - set(folders)}"
    problems: list[str] = []
    for gid, folder in folders.items():
        others = [(other, names[other]) for other in published if other != gid]
        patterns = [re.compile(rb"(?<![0-9-])" + re.escape(o.encode()) + rb"(?![0-9])")
                    for o, _ in others]
        patterns += [re.compile(re.escape(n.encode()) + rb"(?![0-9])") for _, n in others]
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            for blob in readable(path):
                hits = [p.pattern.decode(errors="replace") for p in patterns if p.search(blob)]
                if hits:
                    problems.append(f"{gid}/{path.relative_to(folder)}: {hits[:3]}")
                    break
    assert problems == [], "a group's folder mentions other groups:\n" + "\n".join(problems)


def test_group_tables_rows_are_the_groups_own(baseline: Baseline) -> None:
    """Row by row: a group's EES extract has only rows for that group (or its LA/national
    totals), never another group's rows."""
    import polars as pl

    from pipelines.publish.ees import Geography

    env = baseline.env
    with duckdb.connect(str(env.warehouse), read_only=True) as conn:
        labels = {gid: label for gid, (label, _, _) in Geography.load(conn).groups.items()}
    checked = 0
    for gid, folder in group_folders(env).items():
        for csv in folder.rglob("*.csv"):
            if csv.name.endswith(".meta.csv"):
                continue
            frame = pl.read_csv(csv, infer_schema=False)
            if "partnership_group" not in frame.columns:
                continue
            values = set(frame.get_column("partnership_group").drop_nulls().to_list())
            allowed = {labels[gid], "Total"}
            assert values <= allowed, f"{gid}/{csv.name}: rows for {sorted(values - allowed)}"
            checked += 1
    assert checked > 0, "no group table with a partnership_group column was found"
