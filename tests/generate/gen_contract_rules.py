"""An independent reading of the data contract, written for the generator's tests.

It shares no code with the generator (or with the ingest): rules are re-stated here from
the contract, row by row, and return the names of the rules a row breaks, in the
vocabulary the generator's manifest and the ingest's quarantine use.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
TODAY = dt.date(2026, 11, 27)
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
YEAR_GROUPS = {"N1", "N2", "R", *(str(i) for i in range(1, 15))}
NEEDS = {"SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "OTH",
         "NSA"}
REASONS = {"transfer", "moved_away", "elective_home_education", "alternative_provision",
           "end_of_phase", "other", "unknown"}
DESTINATIONS = {"education", "apprenticeship", "employment", "training", "neet", "unknown"}
TRUE, FALSE = {"y", "yes", "true", "1"}, {"n", "no", "false", "0"}
TERMS = {"autumn", "spring", "summer"}


def read_seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


REGISTER = {int(r["urn"]) for r in read_seed("schools.csv")}
CATEGORIES = {r["code"] for r in read_seed("spend_categories.csv")}
QUESTIONS = {r["question_code"]: r["respondent_type"] for r in read_seed("question_bank.csv")}


@cache
def read_rows(path: Path, encoding: str = "utf-8") -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a CSV landing file (header names normalised as the contract says).

    Cached: every test file path is unique to its session fixture; callers must not mutate."""
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        header = [re.sub(r"[\s-]+", "_", h.strip().lower()) for h in next(reader)]
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    return header, rows


def upn_ok(value: str) -> bool:
    if len(value) != 13 or not value[1:].isdigit() or value[0] not in UPN_LETTERS:
        return False
    total = sum(int(d) * w for d, w in zip(value[1:], range(2, 14), strict=True))
    return UPN_LETTERS[total % 23] == value[0]


@cache
def year_start(value: str) -> int | None:
    m = re.fullmatch(r"(\d{4})/(\d{2})", value)
    if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
        return None
    return int(m.group(1))


@cache
def parse_date(value: str) -> dt.date | None:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            pass
    return None


def _int(value: str) -> int | None:
    return int(value) if re.fullmatch(r"-?\d+", value) else None


def _bool(value: str) -> bool | None:
    v = value.strip().lower()
    return True if v in TRUE else False if v in FALSE else None


def _money(value: str) -> tuple[float | None, int]:
    """(amount, decimals) with £ and thousands commas removed; None if not a number."""
    v = value.replace("£", "").replace(",", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", v):
        return None, 0
    return float(v), len(v.split(".")[1]) if "." in v else 0


def _common(row: dict[str, str], bad: set[str]) -> int | None:
    urn = _int(row["urn"])
    if urn is None:
        bad.add("integer_format")
    elif urn not in REGISTER:
        bad.add("urn_not_in_register")
    start = year_start(row["academic_year"])
    if start is None:
        bad.add("academic_year_format")
    return start


def spend(row: dict[str, str]) -> set[str]:
    bad: set[str] = set()
    _common(row, bad)
    if row["term"] not in TERMS:
        bad.add("term_code")
    if row["category"] not in CATEGORIES:
        bad.add("category_code")
    amount, decimals = _money(row["amount_gbp"])
    if amount is None:
        bad.add("amount_format")
    else:
        if not 0 <= amount <= 1_000_000:
            bad.add("amount_range")
        if decimals > 2:
            bad.add("amount_decimals")
    if len(row["description"]) > 500:
        bad.add("description_length")
    if row["category"] == "other" and not row["description"]:
        bad.add("other_without_description")
    return bad


def allocations(row: dict[str, str]) -> set[str]:
    bad: set[str] = set()
    _common(row, bad)
    amount, decimals = _money(row["allocation_gbp"])
    if amount is None or decimals > 2:
        bad.add("amount_format")
    elif not 0 <= amount <= 5_000_000:
        bad.add("allocation_range")
    return bad


def _check_int(row: dict[str, str], col: str, bad: set[str], required: bool) -> int | None:
    if row[col] == "":
        if required:
            bad.add(f"{col}_required")
        return None
    value = _int(row[col])
    if value is None:
        bad.add("integer_format")
    return value


def _check_bool(row: dict[str, str], col: str, bad: set[str]) -> bool | None:
    if row[col] == "":
        return None
    value = _bool(row[col])
    if value is None:
        bad.add("boolean_value")
    return value


def outcomes(row: dict[str, str]) -> set[str]:
    bad: set[str] = set()
    start = _common(row, bad)
    if not upn_ok(row["upn"]):
        bad.add("upn_check_letter")
    yg = row["year_group"]
    if yg not in YEAR_GROUPS:
        bad.add("year_group_code")
    sen = row["sen_provision"]
    if sen not in ("N", "K", "E"):
        bad.add("sen_provision_code")
    need, first = row["primary_need"], row["first_identified_year_group"]
    if need and need not in NEEDS:
        bad.add("primary_need_code")
    if sen in ("K", "E") and not need:
        bad.add("primary_need_required")
    if sen == "N" and need:
        bad.add("primary_need_not_allowed")
    if sen in ("K", "E") and not first:
        bad.add("first_identified_required")
    if sen == "N" and first:
        bad.add("first_identified_not_allowed")
    if first and first not in YEAR_GROUPS:
        bad.add("year_group_code")
    possible = _check_int(row, "sessions_possible", bad, True)
    attended = _check_int(row, "sessions_attended", bad, True)
    base = _check_int(row, "base_sessions", bad, True)
    susp = _check_int(row, "suspensions", bad, True)
    if possible is not None and not 0 <= possible <= 420:
        bad.add("sessions_possible_range")
    if attended is not None and attended < 0:
        bad.add("sessions_attended_range")
    if None not in (possible, attended) and attended > possible:  # type: ignore[operator]
        bad.add("attended_exceeds_possible")
    if base is not None and base < 0:
        bad.add("base_sessions_range")
    if None not in (base, attended) and base > attended:  # type: ignore[operator]
        bad.add("base_exceeds_attended")
    if susp is not None and not 0 <= susp <= 50:
        bad.add("suspensions_range")
    for col in ("permanently_excluded", "left_roll"):
        if row[col] == "":
            bad.add(f"{col}_required")
    _check_bool(row, "permanently_excluded", bad)
    left = _check_bool(row, "left_roll", bad)
    t_set = _check_int(row, "plan_targets_set", bad, False)
    t_met = _check_int(row, "plan_targets_met", bad, False)
    if sen == "N" and (t_set is not None or t_met is not None):
        bad.add("plan_targets_not_allowed")
    if t_met is not None and (t_met < 0 or t_set is None or t_met > t_set):
        bad.add("plan_targets_met_exceeds_set")
    if row["plan_reviewed_on"]:
        reviewed = parse_date(row["plan_reviewed_on"])
        if reviewed is None:
            bad.add("date_format")
        elif start is not None and reviewed > dt.date(start + 1, 8, 31):
            bad.add("plan_reviewed_after_year")
        elif reviewed > TODAY:
            bad.add("date_in_future")
    reason = row["leaving_reason"]
    if reason and reason not in REASONS:
        bad.add("leaving_reason_code")
    if left is True and not reason:
        bad.add("leaving_reason_required")
    if left is False and reason:
        bad.add("leaving_reason_not_allowed")
    dest = row["destination"]
    if dest and dest not in DESTINATIONS:
        bad.add("destination_code")
    senior = yg in {str(i) for i in range(11, 15)}
    if dest and not (reason == "end_of_phase" and senior):
        bad.add("destination_not_allowed")
    sustained = _check_bool(row, "destination_sustained", bad)
    if sustained is not None and not dest:
        bad.add("destination_sustained_without_destination")
    met = _check_bool(row, "met_expected_standard", bad)
    if met is not None and yg not in ("6", "11"):
        bad.add("met_expected_not_assessed_year")
    return bad


def voice(row: dict[str, str]) -> set[str]:
    bad: set[str] = set()
    start = _common(row, bad)
    rid = row["respondent_id"]
    if not 1 <= len(rid) <= 64:
        bad.add("respondent_id_length")
    if upn_ok(rid.strip().upper()):
        bad.add("respondent_id_is_upn")
    rtype = row["respondent_type"]
    if rtype not in ("pupil", "parent_carer"):
        bad.add("respondent_type_code")
    if row["sen_provision"] not in ("N", "K", "E"):
        bad.add("sen_provision_code")
    if row["year_group"] not in YEAR_GROUPS:
        bad.add("year_group_code")
    code = row["question_code"]
    if code not in QUESTIONS:
        bad.add("question_code_unknown")
    elif rtype in ("pupil", "parent_carer") and QUESTIONS[code] != rtype:
        bad.add("question_wrong_respondent_type")
    if row["response"]:
        response = _int(row["response"])
        if response is None:
            bad.add("integer_format")
        elif not 1 <= response <= 5:
            bad.add("response_range")
    collected = parse_date(row["collected_on"])
    if collected is None:
        bad.add("date_format")
    elif start is not None and not (dt.date(start, 9, 1) <= collected <= dt.date(start + 1, 8, 31)):
        bad.add("collected_on_outside_year")
    elif collected > TODAY:
        bad.add("date_in_future")
    return bad


CHECKS = {"spend": spend, "allocations": allocations, "outcomes": outcomes, "voice": voice}
REQUIRED = {
    "spend": ["urn", "academic_year", "term", "category", "amount_gbp", "description"],
    "allocations": ["urn", "academic_year", "allocation_gbp"],
    "outcomes": ["urn", "academic_year", "upn", "year_group", "sen_provision", "primary_need",
                 "first_identified_year_group", "sessions_possible", "sessions_attended",
                 "base_sessions", "suspensions", "permanently_excluded", "plan_targets_set",
                 "plan_targets_met", "plan_reviewed_on", "left_roll", "leaving_reason",
                 "destination", "destination_sustained", "met_expected_standard"],
    "voice": ["urn", "academic_year", "respondent_id", "respondent_type", "sen_provision",
              "year_group", "question_code", "response", "collected_on"],
}


def violations(source: str, rows: list[dict[str, str]]) -> Iterator[tuple[int, set[str]]]:
    """(spreadsheet row number, rules broken) for every row that breaks something,
    including duplicate pupils (both rows)."""
    check = CHECKS[source]
    seen: dict[tuple[str, str, str], list[int]] = {}
    found: dict[int, set[str]] = {}
    for i, row in enumerate(rows, start=2):
        bad = check(row)
        if bad:
            found[i] = bad
        if source == "outcomes":
            seen.setdefault((row["urn"], row["academic_year"], row["upn"]), []).append(i)
    for numbers in seen.values():
        if len(numbers) > 1:
            for n in numbers:
                found.setdefault(n, set()).add("duplicate_pupil")
    yield from sorted(found.items())
