"""Property test: arbitrary mutations of valid files never crash ingest, every row is loaded
or quarantined (reconciliation holds), and no UPN is stored in clear."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest.fixtures import ref_template  # noqa: F401
from ingest.support import csv_bytes, query, row, upn

from pipelines.ingest.reconcile import reconciliation
from pipelines.settings import ImfSettings
from pipelines.sources.specs import ingest_source

UPNS = [upn(n) for n in range(1, 7)]
BASE = csv_bytes([row("outcomes", upn=u) for u in UPNS[:5]]
                 + [row("outcomes", upn=UPNS[5], sen_provision="N")])
CELL = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)

mutation = st.one_of(
    st.tuples(st.just("cell"), st.integers(0, 6), st.integers(0, 19), CELL),
    st.tuples(st.just("row"), st.integers(0, 6), st.sampled_from(["drop", "dup", "swap"])),
    st.tuples(st.just("byte"), st.integers(0, len(BASE) - 1), st.binary(max_size=3)),
    st.tuples(st.just("truncate"), st.integers(0, len(BASE))),
)


def mutate(data: bytes, changes: list[tuple]) -> bytes:
    for change in changes:
        if change[0] in ("cell", "row"):
            lines = data.decode("utf-8", "replace").split("\r\n")
            index = change[1] % max(len(lines), 1)
            if change[0] == "cell":
                cells = lines[index].split(",")
                cells[change[2] % len(cells)] = change[3]
                lines[index] = ",".join(cells)
            elif change[2] == "drop":
                del lines[index]
            elif change[2] == "dup":
                lines.insert(index, lines[index])
            else:
                lines[index], lines[0] = lines[0], lines[index]
            data = "\r\n".join(lines).encode()
        elif change[0] == "byte":
            position = change[1] % max(len(data), 1)
            data = data[:position] + change[2] + data[position + 1:]
        else:
            data = data[: change[1]]
    return data


@pytest.fixture(scope="module")
def workspace(ref_template: Path) -> Iterator[tuple[Path, Path]]:  # noqa: F811
    root = Path(tempfile.mkdtemp(prefix="imf-property-"))
    (root / "landing" / "outcomes").mkdir(parents=True)
    shutil.copyfile(ref_template, root / "warehouse.duckdb")
    yield root / "landing", root / "warehouse.duckdb"
    shutil.rmtree(root)


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(mutation, min_size=1, max_size=4), name=st.sampled_from(
    ["f.csv", "f.xlsx", "f.CSV"]))
def test_mutated_files_reconcile(workspace: tuple[Path, Path], changes: list[tuple],
                                 name: str) -> None:
    landing, warehouse = workspace
    data = mutate(BASE, changes)
    for old in (landing / "outcomes").iterdir():
        old.unlink()  # each example is judged on its own file
    (landing / "outcomes" / name).write_bytes(data)
    settings_ = ImfSettings(landing_dir=str(landing), warehouse=str(warehouse),
                            publish_dir=str(landing.parent / "published"),
                            pseudonym_key="property-key")
    with duckdb.connect(str(warehouse)) as conn:
        summary = ingest_source("outcomes", settings_, conn)
        balance = reconciliation(conn, "outcomes")
    assert [f.status for f in summary.files] in (["loaded"], ["refused"], ["duplicate"])
    assert balance.get_column("balanced").all()
    stored = " ".join(str(v) for r in query(
        warehouse, "SELECT * FROM raw.outcomes UNION ALL BY NAME SELECT * FROM audit.quarantine "
        "UNION ALL BY NAME SELECT * FROM audit.quarantine_rows") for v in r).upper()
    assert not any(u in stored for u in UPNS)
    assert not re.search(r"TRACEBACK", stored)


SPACES = st.sampled_from([" ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u3000", "\u200b", "\ufeff"])
CELL_OR_NULL = st.one_of(st.none(), st.text(SPACES, max_size=3), CELL)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(CELL_OR_NULL, min_size=3, max_size=3), min_size=1, max_size=6))
def test_a_row_has_a_value_exactly_when_one_of_its_cells_has(
        rows: list[list[str | None]]) -> None:
    """`any_value` (the cells run together, then stripped) keeps the rows that asking each
    cell with `cleaned` keeps: spaces of every kind, empty cells and nulls included."""
    import polars as pl

    from pipelines.ingest.parsers import any_value, cleaned

    frame = pl.DataFrame(rows, schema=dict.fromkeys("abc", pl.String), orient="row")
    by_cell = frame.select(pl.any_horizontal([cleaned(c).is_not_null() for c in "abc"]))
    together = frame.select(any_value(["a", "b", "c"]))
    assert together.to_series().to_list() == by_cell.to_series().to_list()
