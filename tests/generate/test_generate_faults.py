"""fault_rate > 0: every kind of bad input the contract names is injected, recorded in the
manifest, and each recorded row really is bad in the stated way (and no other row is)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl

from .conftest import FAULT_RATE
from .gen_contract_rules import REQUIRED, read_rows, violations

Demo = tuple[Path, dict[str, Any]]
ROW_KINDS = {
    "urn_not_in_register", "academic_year_format", "term_code", "category_code", "amount_range",
    "amount_decimals", "description_length", "other_without_description", "allocation_range",
    "upn_check_letter", "year_group_code", "sen_provision_code", "primary_need_code",
    "primary_need_required", "primary_need_not_allowed", "first_identified_required",
    "sessions_possible_range", "attended_exceeds_possible", "base_exceeds_attended",
    "suspensions_range", "boolean_value", "plan_targets_met_exceeds_set",
    "plan_reviewed_after_year", "leaving_reason_required", "leaving_reason_not_allowed",
    "destination_not_allowed", "destination_sustained_without_destination", "duplicate_pupil",
    "respondent_id_is_upn", "respondent_type_code", "question_code_unknown",
    "question_wrong_respondent_type", "response_range", "collected_on_outside_year",
    "date_format", "integer_format",
}
FILE_KINDS = {"windows_1252_file", "xlsx_file", "missing_column", "unreadable_file",
              "wrong_extension", "empty_file", "resubmission"}


def _main_files(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in manifest["files"] if f["path"].count("_") == 2 and f["format"] == "csv"
            and f["encoding"] == "utf-8"]


def test_every_fault_kind_is_in_the_manifest(faulty_demo: Demo) -> None:
    _, manifest = faulty_demo
    kinds = {f["kind"] for f in manifest["faults"]}
    assert kinds == ROW_KINDS | FILE_KINDS
    assert manifest["counts"]["faults"] == {
        k: sum(f["kind"] == k for f in manifest["faults"]) for k in kinds}
    for f in manifest["faults"]:
        assert set(f) >= {"kind", "source", "file", "row_number", "column", "value"}
        assert (f["row_number"] is None) == (f["kind"] in FILE_KINDS)


def test_the_share_of_corrupted_rows_follows_the_rate(faulty_demo: Demo) -> None:
    _, manifest = faulty_demo
    for entry in _main_files(manifest):
        faulty = {f["row_number"] for f in manifest["faults"] if f["file"] == entry["path"]}
        expected = round(FAULT_RATE * entry["rows"])
        # At least the rate; at most twice it (a duplicate adds a second bad row) plus the
        # one-of-each-kind the first file of a source gets.
        assert 0.9 * expected <= len(faulty) <= 2 * expected + 25, entry["path"]


def test_recorded_rows_are_bad_as_stated_and_no_others(faulty_demo: Demo) -> None:
    out, manifest = faulty_demo
    for entry in _main_files(manifest):
        _, rows = read_rows(out / entry["path"])
        found = dict(violations(entry["source"], rows))
        recorded: dict[int, set[str]] = defaultdict(set)
        for f in manifest["faults"]:
            if f["file"] == entry["path"]:
                recorded[f["row_number"]].add(f["kind"])
                row = rows[f["row_number"] - 2]
                if f["value"] is not None:
                    assert row[f["column"]] == f["value"], f
        for number, kinds in recorded.items():
            assert kinds <= found.get(number, set()), (entry["path"], number, kinds)
        assert set(found) == set(recorded), entry["path"]


def test_upns_never_appear_in_the_manifest(faulty_demo: Demo) -> None:
    out, manifest = faulty_demo
    for f in manifest["faults"]:
        if f["kind"] in ("upn_check_letter", "respondent_id_is_upn", "duplicate_pupil"):
            assert f["value"] is None
    text = (out / "manifest.json").read_text()
    _, rows = read_rows(out / "outcomes" / "806_2025-26_outcomes.csv")
    assert not any(r["upn"] in text for r in rows[:2000])


def test_duplicates_pair_up(faulty_demo: Demo) -> None:
    out, manifest = faulty_demo
    dups = [f for f in manifest["faults"] if f["kind"] == "duplicate_pupil"]
    assert dups and len(dups) % 2 == 0
    for f in dups:
        _, rows = read_rows(out / f["file"])
        a, b = rows[f["row_number"] - 2], rows[f["duplicate_of"] - 2]
        assert (a["urn"], a["academic_year"], a["upn"]) == (b["urn"], b["academic_year"], b["upn"])


def _fault(manifest: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in manifest["faults"] if f["kind"] == kind]


def test_windows_1252_file_is_valid_and_needs_its_encoding(faulty_demo: Demo) -> None:
    out, manifest = faulty_demo
    (f,) = _fault(manifest, "windows_1252_file")
    data = (out / f["file"]).read_bytes()
    try:
        data.decode("utf-8")
        raise AssertionError("a Windows-1252 file with £ and é is not valid UTF-8")
    except UnicodeDecodeError:
        pass
    assert "£" in data.decode("cp1252") and "é" in data.decode("cp1252")
    header, rows = read_rows(out / f["file"], encoding="cp1252")
    assert header == REQUIRED["spend"] and rows
    assert list(violations("spend", rows)) == []


def test_xlsx_file_is_a_valid_first_sheet(faulty_demo: Demo) -> None:
    out, manifest = faulty_demo
    (f,) = _fault(manifest, "xlsx_file")
    frame = pl.read_excel(out / f["file"], sheet_id=1)
    assert frame.columns == REQUIRED["outcomes"]
    assert frame.height > 0 and set(frame["urn"].cast(pl.Int64).to_list()) == {f["urn"]}


def test_missing_column_file_lacks_only_that_column(faulty_demo: Demo) -> None:
    out, manifest = faulty_demo
    (f,) = _fault(manifest, "missing_column")
    header, rows = read_rows(out / f["file"])
    assert header == [c for c in REQUIRED[f["source"]] if c != f["column"]] and rows


def test_unreadable_wrong_extension_and_empty_files(faulty_demo: Demo) -> None:
    out, manifest = faulty_demo
    (unreadable,) = _fault(manifest, "unreadable_file")
    data = (out / unreadable["file"]).read_bytes()
    assert unreadable["file"].endswith(".csv") and b"\x00" in data
    try:
        data.decode("utf-8")
        raise AssertionError("random bytes should not decode")
    except UnicodeDecodeError:
        pass
    (wrong,) = _fault(manifest, "wrong_extension")
    assert not wrong["file"].endswith((".csv", ".xlsx"))
    assert (out / wrong["file"]).read_bytes().startswith(b"%PDF")
    (empty,) = _fault(manifest, "empty_file")
    assert (out / empty["file"]).stat().st_size == 0


def test_resubmissions_are_later_and_cover_exactly_their_unit(faulty_demo: Demo) -> None:
    out, manifest = faulty_demo
    mtimes = {f["path"]: f["mtime"] for f in manifest["files"]}
    resubs = _fault(manifest, "resubmission")
    assert {f["source"] for f in resubs} == {"outcomes", "spend"}
    for f in resubs:
        unit = f["replaces"]
        assert mtimes[f["file"]] > mtimes[unit["file"]]
        _, new_rows = read_rows(out / f["file"])
        _, old_rows = read_rows(out / unit["file"])

        def in_unit(r: dict[str, str], unit: dict[str, Any] = unit) -> bool:
            return (r["urn"] == str(unit["urn"]) and r["academic_year"] == unit["academic_year"]
                    and (unit["term"] is None or r["term"] == unit["term"]))

        assert new_rows and all(in_unit(r) for r in new_rows)
        old = [r for r in old_rows if in_unit(r)]
        assert old and old != new_rows
        assert list(violations(f["source"], new_rows)) == []


def test_faults_leave_the_clean_rows_unchanged(clean_demo: Demo, faulty_demo: Demo) -> None:
    # Faults are drawn from their own random stream: the untouched rows of a faulty main
    # file are exactly the clean file's rows.
    clean_out, _ = clean_demo
    out, manifest = faulty_demo
    path = "allocations/806_2023-24_allocations.csv"
    bad = {f["row_number"] for f in manifest["faults"] if f["file"] == path}
    _, faulty_rows = read_rows(out / path)
    _, clean_rows = read_rows(clean_out / path)
    assert [r for i, r in enumerate(faulty_rows, 2) if i not in bad] == [
        r for i, r in enumerate(clean_rows, 2) if i not in bad]
