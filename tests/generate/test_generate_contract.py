"""Clean generator output follows the data contract, checked rule by rule with an
independent reader (gen_contract_rules), file by file."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.exceptions import ValidationError
from stdnum.gb import upn as stdnum_upn

from pipelines.generate import upn

from .gen_contract_rules import REQUIRED, TODAY, parse_date, read_rows, upn_ok, violations

Demo = tuple[Path, dict[str, Any]]
SOURCES = ("spend", "allocations", "outcomes", "voice")
# LA numbers python-stdnum knows (its 2011 list); 940/941 etc. are valid today but not there.
STDNUM_LAS = sorted(stdnum_upn._la_numbers)


def test_one_file_per_source_la_and_year(clean_demo: Demo) -> None:
    out, manifest = clean_demo
    years = ["2023-24", "2024-25", "2025-26"]
    expected = {f"{s}/806_{y}_{s}.csv" for s in SOURCES for y in years}
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert on_disk == expected | {"manifest.json"}
    assert {f["path"] for f in manifest["files"]} == expected
    assert manifest["faults"] == []


def test_headers_are_the_contract_columns_in_order(clean_demo: Demo) -> None:
    out, _ = clean_demo
    for source in SOURCES:
        for path in sorted((out / source).iterdir()):
            assert path.read_bytes().split(b"\n", 1)[0].decode() == ",".join(REQUIRED[source])


@pytest.mark.parametrize("source", SOURCES)
def test_every_row_of_clean_output_is_valid(clean_demo: Demo, source: str) -> None:
    out, manifest = clean_demo
    for entry in (f for f in manifest["files"] if f["source"] == source):
        _, rows = read_rows(out / entry["path"])
        assert len(rows) == entry["rows"] > 0
        broken = list(violations(source, rows))
        assert broken == [], f"{entry['path']}: first bad rows {broken[:5]}"


def test_rows_belong_to_their_files_year_and_dates_are_in_it(clean_demo: Demo) -> None:
    out, _ = clean_demo
    for path in sorted((out / "outcomes").iterdir()) + sorted((out / "voice").iterdir()):
        start = int(path.name.split("_")[1][:4])
        first, last = dt.date(start, 9, 1), dt.date(start + 1, 8, 31)
        _, rows = read_rows(path)
        assert {r["academic_year"] for r in rows} == {f"{start}/{(start + 1) % 100:02d}"}
        for r in rows:
            if "collected_on" in r:
                day = parse_date(r["collected_on"])
                assert day is not None and first <= day <= last <= TODAY
            elif r["plan_reviewed_on"]:
                day = parse_date(r["plan_reviewed_on"])
                assert day is not None and day <= last <= TODAY


def test_money_has_pence_and_some_valid_currency_formatting(clean_demo: Demo) -> None:
    out, _ = clean_demo
    _, rows = read_rows(out / "spend" / "806_2025-26_spend.csv")
    amounts = [r["amount_gbp"] for r in rows]
    assert all(re.fullmatch(r"(£\d{1,3}(,\d{3})*|\d+)\.\d{2}", a) for a in amounts)
    assert any(a.startswith("£") for a in amounts)
    assert any(a.startswith("£") and "," in a for a in amounts)


def test_respondent_ids_are_anonymous(clean_demo: Demo) -> None:
    out, _ = clean_demo
    upns: set[str] = set()
    for path in (out / "outcomes").iterdir():
        upns |= {r["upn"] for r in read_rows(path)[1]}
    for path in (out / "voice").iterdir():
        ids = {r["respondent_id"] for r in read_rows(path)[1]}
        assert not ids & upns
        assert not any(upn_ok(i.upper()) or len(i) == 13 for i in ids)


def test_file_times_increase_in_the_order_written(clean_demo: Demo) -> None:
    out, manifest = clean_demo
    times = [f["mtime"] for f in manifest["files"]]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert [int(os.stat(out / f["path"]).st_mtime) for f in manifest["files"]] == times
    assert max(times) < dt.datetime(2026, 11, 27, tzinfo=dt.UTC).timestamp()


def test_generated_upns_pass_python_stdnum(clean_demo: Demo) -> None:
    out, _ = clean_demo
    _, rows = read_rows(out / "outcomes" / "806_2024-25_outcomes.csv")
    for r in rows[::50]:
        assert stdnum_upn.validate(r["upn"]) == r["upn"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(STDNUM_LAS), st.integers(0, 9999), st.integers(0, 99),
       st.integers(0, 999))
def test_upn_check_letter_matches_stdnum(la: int, estab: int, year2: int, serial: int) -> None:
    import numpy as np

    code = upn.code(np.array([la]), np.array([estab]), np.array([year2]), np.array([serial]))
    value = upn.to_strings(code)[0]
    assert value[1:] == f"{la:03d}{estab:04d}{year2:02d}{serial:03d}"
    assert stdnum_upn.is_valid(value)
    assert upn.check_letter(value[1:]) == value[0]
    with pytest.raises(ValidationError):
        stdnum_upn.validate(upn.wrong_letter(value))


def test_check_letter_on_a_published_example() -> None:
    # python-stdnum's documented example: B801200005001 is valid.
    assert upn.check_letter("801200005001") == "B"
