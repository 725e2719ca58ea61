"""Safe outputs: formula injection, HTML escaping, privacy guard, atomicity, confinement."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.catalog import IndicatorMeta
from pipelines.publish.core import DisclosureRisk, ScreenerFailed, publish_public
from pipelines.publish.safety import neutralise_cell, safe_text

from .conftest import THRESHOLD, build_warehouse

EVIL_GROUP = "=HYPERLINK(\"http://evil.example\",\"click\")"
EVIL_SCHOOL = "<script>alert('x')</script><img src=x onerror=alert(1)>"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", " =1"])
def test_formula_triggers_are_neutralised(text: str) -> None:
    out = safe_text(text)
    assert out.startswith("'")
    assert not out[1:].startswith(("\t", "\r", " "))


def test_plain_text_is_untouched() -> None:
    assert neutralise_cell("Camden partnership group 1") == "Camden partnership group 1"
    assert safe_text("St Mary's\nC of E") == "St Mary's C of E"


def _publish(tmp_path: Path, catalog: tuple[IndicatorMeta, ...], **names: dict) -> Path:
    db = build_warehouse(tmp_path / "wh.duckdb", **names)
    conn = duckdb.connect(str(db), read_only=True)
    try:
        publish_public(conn, tmp_path / "out", THRESHOLD, catalog)
    finally:
        conn.close()
    return tmp_path / "out" / "public"


def test_csv_and_excel_injection(tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    public = _publish(tmp_path, catalog, group_names={"202-02": EVIL_GROUP})
    # CSV: the group name is text with a leading apostrophe; no cell starts a formula.
    with (public / "ees" / "imf_outcome_indicators.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    groups = {r["partnership_group"] for r in rows}
    assert "'" + EVIL_GROUP in groups
    negative_gaps = 0
    for row in rows:
        for col, value in row.items():
            if col.endswith(("_gap_pp", "_change_pp")) and value.startswith("-"):
                float(value)  # a negative number stays a plain number: never prefixed
                negative_gaps += 1
            elif col in ("partnership_group", "la_name"):
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert negative_gaps > 0
    # Parquet carries the same neutralised text.
    parquet = pl.read_parquet(public / "ees" / "imf_outcome_indicators.parquet")
    assert "'" + EVIL_GROUP in parquet["partnership_group"].to_list()
    # Excel: no formula anywhere, the name is a string cell, gaps are numeric cells.
    xlsx = public / "groups" / "202-02" / "202-02.xlsx"
    with zipfile.ZipFile(xlsx) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
        shared = z.read("xl/sharedStrings.xml").decode()
    assert all("<f>" not in s for s in sheets)
    assert "'=HYPERLINK" in shared
    # A negative gap is a numeric cell (no t="s"/t="str" type), not text.
    assert any(re.search(r'<c r="[A-Z]+\d+"(?: s="\d+")?><v>-\d', s) for s in sheets)


def test_html_escapes_input_text(tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    public = _publish(tmp_path, catalog, school_names={100041: EVIL_SCHOOL},
                      group_names={"202-02": "<b>Group</b> & friends"})
    html = (public / "groups" / "202-02" / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x" in html
    assert "&lt;b&gt;Group&lt;/b&gt; &amp; friends" in html
    index = (public / "index.html").read_text(encoding="utf-8")
    assert "<b>Group</b>" not in index and "&lt;b&gt;Group&lt;/b&gt;" in index
    assert "<script" not in html.lower().replace("&lt;script", "")


def test_group_folder_holds_only_its_group(published: Path) -> None:
    for folder in (published / "groups").iterdir():
        gid = folder.name
        for parquet in folder.glob("*.parquet"):
            frame = pl.read_parquet(parquet)
            names = set(frame["partnership_group"].to_list())
            assert len(names) == 1 and "Total" not in names, parquet
            assert set(frame["geographic_level"].to_list()) == {"Local authority"}
        other = "Camden partnership group 2" if gid == "202-01" else "Camden partnership group 1"
        for path in folder.iterdir():
            if path.suffix in (".csv", ".html"):
                assert other not in path.read_text(encoding="utf-8"), path


def test_no_links_or_assets_leave_the_page(published: Path) -> None:
    for html in published.rglob("*.html"):
        text = html.read_text(encoding="utf-8").replace("http://www.w3.org/2000/svg", "")
        assert "http://" not in text and "https://" not in text, html
        assert "<script" not in text


def test_disclosure_guard_refuses_small_cells(
    tmp_path: Path, catalog: tuple[IndicatorMeta, ...]
) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    conn = duckdb.connect(str(db))
    # Simulate an upstream bug: a cell about 6 children left unsuppressed.
    conn.execute("""UPDATE indicators.published_values SET numerator = '3', denominator = '6',
        value = '50.0', ci_lower = '18.8', ci_upper = '81.2'
        WHERE level = 'partnership_group' AND group_id = '202-02'
          AND sen_breakdown = 'Education, health and care plan'
          AND indicator_id = 'belonging_percent' AND academic_year = '2025/26'""")
    with pytest.raises(DisclosureRisk):
        publish_public(conn, tmp_path / "out", THRESHOLD, catalog)
    conn.close()
    assert not (tmp_path / "out" / "public").exists()


def test_failed_publish_keeps_the_previous_version(
    tmp_path: Path, catalog: tuple[IndicatorMeta, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    conn = duckdb.connect(str(db), read_only=True)
    publish_public(conn, tmp_path / "out", THRESHOLD, catalog)
    before = (tmp_path / "out" / "public").resolve()
    from pipelines.publish import core
    from pipelines.publish.screener import Finding

    monkeypatch.setattr(core, "screen_folder",
                        lambda *a, **k: [Finding("duplicates", "x.csv", "forced")])
    with pytest.raises(ScreenerFailed):
        publish_public(conn, tmp_path / "out", THRESHOLD, catalog)
    conn.close()
    assert (tmp_path / "out" / "public").resolve() == before
    assert not list((tmp_path / "out" / ".versions").glob(".tmp-*"))
    # Everything written is inside the publish folder.
    assert {p.name for p in tmp_path.iterdir()} == {"wh.duckdb", "out"}


def test_unsafe_group_id_is_refused(tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    conn = duckdb.connect(str(db))
    conn.execute("UPDATE ref.partnership_groups SET group_id = '../../etc' "
                 "WHERE group_id = '202-02'")
    conn.execute("UPDATE indicators.published_values SET group_id = '../../etc' "
                 "WHERE group_id = '202-02'")
    conn.execute("UPDATE indicators.spend_context SET group_id = '../../etc' "
                 "WHERE group_id = '202-02'")
    conn.execute("UPDATE indicators.coverage SET group_id = '../../etc' "
                 "WHERE group_id = '202-02'")
    with pytest.raises(ValueError, match="not safe"):
        publish_public(conn, tmp_path / "out", THRESHOLD, catalog)
    conn.close()
    assert not (tmp_path / "etc").exists()


def test_blank_or_null_cells_are_refused(
    tmp_path: Path, catalog: tuple[IndicatorMeta, ...]
) -> None:
    from pipelines.publish.ees import PublishInputError

    db = build_warehouse(tmp_path / "wh.duckdb")
    conn = duckdb.connect(str(db))
    conn.execute("UPDATE indicators.published_values SET change_pp = NULL "
                 "WHERE indicator_id = 'wellbeing_percent'")
    with pytest.raises(PublishInputError, match="blank or NULL"):
        publish_public(conn, tmp_path / "out", THRESHOLD, catalog)
    conn.close()


def test_a_cell_that_is_not_a_number_is_refused_naming_where_it_is(
    tmp_path: Path, catalog: tuple[IndicatorMeta, ...]
) -> None:
    from pipelines.publish.ees import PublishInputError

    db = build_warehouse(tmp_path / "wh.duckdb")
    conn = duckdb.connect(str(db))
    (level, la, gid, year, sen) = conn.execute(
        "UPDATE indicators.published_values SET value = 'about 7' WHERE rowid = (SELECT "
        "min(rowid) FROM indicators.published_values WHERE indicator_id = "
        "'wellbeing_percent') RETURNING level, la_code, group_id, academic_year, "
        "sen_breakdown").fetchone() or ()
    with pytest.raises(PublishInputError) as refused:
        publish_public(conn, tmp_path / "out", THRESHOLD, catalog)
    conn.close()
    assert str(refused.value) == (
        "cell 'about 7' is neither a number nor a symbol in published_values "
        f"{level}/{la}/{gid}/{year}/{sen}/wellbeing_percent/value")


def test_publication_layout_and_determinism(
    tmp_path: Path, catalog: tuple[IndicatorMeta, ...]
) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    conn = duckdb.connect(str(db), read_only=True)
    first = publish_public(conn, tmp_path / "a", THRESHOLD, catalog)
    publish_public(conn, tmp_path / "b", THRESHOLD, catalog)
    conn.close()
    a, b = tmp_path / "a" / "public", tmp_path / "b" / "public"
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert Path("index.html") in files and Path("ees/imf_outcome_indicators.csv") in files
    assert Path("groups/202-01/202-01.xlsx") in files
    assert set(first.group_reports) == {"202-01", "202-02"}
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
