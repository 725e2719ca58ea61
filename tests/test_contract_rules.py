"""One case per contract rule: a bad value is quarantined with the right rule (and only the
rules it breaks), a good value passes. Each source's cases share one file and one ingest,
so the whole table runs in a few seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest.fixtures import ref_template  # noqa: F401
from ingest.support import TODAY, URN, VALID, csv_bytes, ingest, query, row, upn
from stdnum.gb.upn import calc_check_digit

from pipelines.ingest.rules import RULES

TEMPORARY_UPN = calc_check_digit(upn(5)[1:12] + "A") + upn(5)[1:12] + "A"
N_PUPIL = {"sen_provision": "N", "primary_need": None, "first_identified_year_group": None,
           "plan_targets_set": None, "plan_targets_met": None, "plan_reviewed_on": None}
NOT_LEFT = {"left_roll": "N", "leaving_reason": None, "destination": None,
            "destination_sustained": None}

# (source, id, changes, {(column, rule)}); an empty set means the row must load.
CASES: list[tuple[str, str, dict[str, str | None], set[tuple[str, str]]]] = [
    # every source
    ("outcomes", "urn_not_in_register", {"urn": "999999"}, {("urn", "urn_not_in_register")}),
    ("outcomes", "urn_integer_format", {"urn": "1000O0"}, {("urn", "integer_format")}),
    ("outcomes", "urn_required", {"urn": None}, {("urn", "required_value")}),
    ("outcomes", "academic_year_not_consecutive", {"academic_year": "2025/27"},
     {("academic_year", "academic_year_format")}),
    ("outcomes", "academic_year_dash", {"academic_year": "2025-26"},
     {("academic_year", "academic_year_format")}),
    # outcomes
    ("outcomes", "upn_check_letter", {"upn": "B" + upn(0)[1:] if upn(0)[0] != "B" else "C"
                                      + upn(0)[1:]}, {("upn", "upn_check_letter")}),
    ("outcomes", "upn_too_short", {"upn": upn(0)[:12]}, {("upn", "upn_check_letter")}),
    ("outcomes", "upn_required", {"upn": None}, {("upn", "required_value")}),
    ("outcomes", "year_group_code", {"year_group": "15", "destination": None,
                                     "destination_sustained": None},
     {("year_group", "year_group_code")}),
    ("outcomes", "sen_provision_code", {"sen_provision": "X"},
     {("sen_provision", "sen_provision_code")}),
    ("outcomes", "primary_need_code", {"primary_need": "ADHD"},
     {("primary_need", "primary_need_code")}),
    ("outcomes", "primary_need_required", {"primary_need": None},
     {("primary_need", "primary_need_required")}),
    ("outcomes", "primary_need_not_allowed", {**N_PUPIL, "primary_need": "SEMH"},
     {("primary_need", "primary_need_not_allowed")}),
    ("outcomes", "first_identified_required", {"first_identified_year_group": None},
     {("first_identified_year_group", "first_identified_required")}),
    ("outcomes", "first_identified_not_allowed", {**N_PUPIL, "first_identified_year_group": "3"},
     {("first_identified_year_group", "first_identified_not_allowed")}),
    ("outcomes", "first_identified_code", {"first_identified_year_group": "Y7"},
     {("first_identified_year_group", "year_group_code")}),
    ("outcomes", "sessions_possible_range", {"sessions_possible": "421"},
     {("sessions_possible", "sessions_possible_range")}),
    ("outcomes", "sessions_integer_format", {"sessions_possible": "380.5"},
     {("sessions_possible", "integer_format")}),
    ("outcomes", "attended_exceeds_possible", {"sessions_attended": "381"},
     {("sessions_attended", "attended_exceeds_possible")}),
    ("outcomes", "sessions_attended_range", {"sessions_attended": "-1", "base_sessions": "-1"},
     {("sessions_attended", "sessions_attended_range"), ("base_sessions", "base_sessions_range")}),
    ("outcomes", "base_exceeds_attended", {"base_sessions": "351"},
     {("base_sessions", "base_exceeds_attended")}),
    ("outcomes", "suspensions_range", {"suspensions": "51"},
     {("suspensions", "suspensions_range")}),
    ("outcomes", "boolean_value", {"permanently_excluded": "maybe"},
     {("permanently_excluded", "boolean_value")}),
    ("outcomes", "plan_targets_range", {"plan_targets_set": "-1", "plan_targets_met": None},
     {("plan_targets_set", "plan_targets_range")}),
    ("outcomes", "plan_targets_not_allowed", {**N_PUPIL, "plan_targets_set": "2"},
     {("plan_targets_set", "plan_targets_not_allowed")}),
    ("outcomes", "plan_targets_met_exceeds_set", {"plan_targets_met": "5"},
     {("plan_targets_met", "plan_targets_met_exceeds_set")}),
    ("outcomes", "plan_targets_met_without_set", {"plan_targets_set": None},
     {("plan_targets_met", "plan_targets_met_exceeds_set")}),
    ("outcomes", "plan_reviewed_after_year", {"plan_reviewed_on": "2026-09-01"},
     {("plan_reviewed_on", "plan_reviewed_after_year")}),
    ("outcomes", "plan_reviewed_in_future",
     {"academic_year": "2026/27", "plan_reviewed_on": "2026-12-01"},
     {("plan_reviewed_on", "plan_reviewed_in_future")}),
    ("outcomes", "date_format_impossible", {"plan_reviewed_on": "31/02/2026"},
     {("plan_reviewed_on", "date_format")}),
    ("outcomes", "date_format_us", {"plan_reviewed_on": "03-10-2026"},
     {("plan_reviewed_on", "date_format")}),
    ("outcomes", "leaving_reason_code", {"leaving_reason": "expelled", "destination": None,
                                         "destination_sustained": None},
     {("leaving_reason", "leaving_reason_code")}),
    ("outcomes", "leaving_reason_required", {"leaving_reason": None, "destination": None,
                                             "destination_sustained": None},
     {("leaving_reason", "leaving_reason_required")}),
    ("outcomes", "leaving_reason_not_allowed", {**NOT_LEFT, "leaving_reason": "transfer"},
     {("leaving_reason", "leaving_reason_not_allowed")}),
    ("outcomes", "destination_code", {"destination": "space"},
     {("destination", "destination_code")}),
    ("outcomes", "destination_below_year_11", {"year_group": "10"},
     {("destination", "destination_not_allowed")}),
    ("outcomes", "destination_not_end_of_phase", {"leaving_reason": "transfer"},
     {("destination", "destination_not_allowed")}),
    ("outcomes", "destination_sustained_without_destination", {"destination": None},
     {("destination_sustained", "destination_sustained_without_destination")}),
    ("outcomes", "met_expected_boolean", {"met_expected_standard": "perhaps"},
     {("met_expected_standard", "boolean_value")}),
    ("outcomes", "good_n_pupil_not_left", {**N_PUPIL, **NOT_LEFT, "year_group": "R",
                                           "permanently_excluded": "no", "left_roll": "FALSE",
                                           "met_expected_standard": None}, set()),
    ("outcomes", "good_uk_date_and_words", {"plan_reviewed_on": "10/03/2026", "left_roll": "yes",
                                            "permanently_excluded": "0",
                                            "destination_sustained": "true"}, set()),
    ("outcomes", "good_lowercase_upn_with_spaces", {"upn": f"  {upn(777).lower()} "}, set()),
    ("outcomes", "good_temporary_upn_letter_last", {"upn": TEMPORARY_UPN}, set()),
    # spend
    ("spend", "term_code", {"term": "winter"}, {("term", "term_code")}),
    ("spend", "term_code_case", {"term": "Autumn"}, {("term", "term_code")}),
    ("spend", "category_code", {"category": "books"}, {("category", "category_code")}),
    ("spend", "amount_range_negative", {"amount_gbp": "-5"}, {("amount_gbp", "amount_range")}),
    ("spend", "amount_range_over", {"amount_gbp": "1000000.01"},
     {("amount_gbp", "amount_range")}),
    ("spend", "amount_decimals", {"amount_gbp": "12.345"}, {("amount_gbp", "amount_decimals")}),
    ("spend", "money_format", {"amount_gbp": "12 pounds"}, {("amount_gbp", "money_format")}),
    ("spend", "amount_required", {"amount_gbp": None}, {("amount_gbp", "required_value")}),
    ("spend", "description_length", {"description": "x" * 501},
     {("description", "description_length")}),
    ("spend", "other_without_description", {"category": "other", "description": None},
     {("description", "other_without_description")}),
    ("spend", "good_pounds_and_commas", {"amount_gbp": "£1,000,000.00"}, set()),
    ("spend", "good_other_described", {"category": "other", "description": "x" * 500}, set()),
    ("spend", "good_no_description", {"description": None}, set()),
    # allocations
    ("allocations", "allocation_range_over", {"allocation_gbp": "5000000.01"},
     {("allocation_gbp", "allocation_range")}),
    ("allocations", "allocation_range_negative", {"allocation_gbp": "-1"},
     {("allocation_gbp", "allocation_range")}),
    ("allocations", "allocation_money_format", {"allocation_gbp": "lots"},
     {("allocation_gbp", "money_format")}),
    ("allocations", "good_allocation_pounds", {"allocation_gbp": "£5,000,000"}, set()),
    # voice
    ("voice", "respondent_id_is_upn", {"respondent_id": upn(42)},
     {("respondent_id", "respondent_id_is_upn")}),
    ("voice", "respondent_id_length", {"respondent_id": "r" * 65},
     {("respondent_id", "respondent_id_length")}),
    ("voice", "respondent_type_code", {"respondent_type": "teacher"},
     {("respondent_type", "respondent_type_code")}),
    ("voice", "question_code_unknown", {"question_code": "P_XYZ_9"},
     {("question_code", "question_code_unknown")}),
    ("voice", "question_wrong_respondent_type", {"question_code": "F_CON_1"},
     {("question_code", "question_wrong_respondent_type")}),
    ("voice", "response_range_high", {"response": "6"}, {("response", "response_range")}),
    ("voice", "response_range_zero", {"response": "0"}, {("response", "response_range")}),
    ("voice", "collected_on_outside_year", {"collected_on": "2025-08-31"},
     {("collected_on", "collected_on_outside_year")}),
    ("voice", "collected_on_in_future", {"academic_year": "2026/27", "collected_on": "2026-11-02"},
     {("collected_on", "collected_on_in_future")}),
    ("voice", "voice_sen_provision_code", {"sen_provision": "k"},
     {("sen_provision", "sen_provision_code")}),
    ("voice", "voice_year_group_code", {"year_group": "0"}, {("year_group", "year_group_code")}),
    ("voice", "voice_date_format", {"collected_on": "May 2026"}, {("collected_on", "date_format")}),
    ("voice", "good_skipped_response_uk_date", {"response": None, "collected_on": "12/05/2026"},
     set()),
    ("voice", "good_parent_question", {"respondent_type": "parent_carer",
                                       "question_code": "F_CON_2"}, set()),
    ("voice", "good_upn_shaped_but_invalid_id", {"respondent_id": "B" + upn(42)[1:]
                                                 if upn(42)[0] != "B" else "C" + upn(42)[1:]},
     set()),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, ref_template: Path  # noqa: F811
           ) -> Iterator[dict[str, dict[str, int]]]:
    """Ingest one file per source holding every case; map case id -> row number."""
    import shutil

    root = tmp_path_factory.mktemp("rules")
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    shutil.copyfile(ref_template, warehouse)
    rows_by_source: dict[str, dict[str, int]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMF_LANDING_DIR", str(landing))
        patch.setenv("IMF_WAREHOUSE", str(warehouse))
        patch.setenv("IMF_PSEUDONYM_KEY", "rules-test-key")
        for source in VALID:
            (landing / source).mkdir(parents=True)
            rows = []
            numbers: dict[str, int] = {}
            for number, (src, case_id, changes, _) in enumerate(
                (c for c in CASES if c[0] == source), start=1
            ):
                values = row(src, **changes)
                if src == "outcomes" and "upn" not in changes:
                    values["upn"] = upn(1000 + number)  # distinct pupils: no duplicates
                rows.append(values)
                numbers[case_id] = number + 1  # header is row 1
            (landing / source / f"{source}.csv").write_bytes(csv_bytes(rows))
            summary = ingest(source, warehouse)
            assert summary.count("loaded") == 1, summary
            rows_by_source[source] = numbers
        patch.setattr("builtins.__rules_warehouse__", warehouse, raising=False)
        yield {"__warehouse__": {str(warehouse): 0}, **rows_by_source}


def _warehouse(loaded: dict[str, dict[str, int]]) -> Path:
    return Path(next(iter(loaded["__warehouse__"])))


@pytest.mark.parametrize(("source", "case_id", "changes", "expected"), CASES,
                         ids=[c[1] for c in CASES])
def test_rule(loaded: dict[str, dict[str, int]], source: str, case_id: str,
              changes: dict[str, str | None], expected: set[tuple[str, str]]) -> None:
    warehouse = _warehouse(loaded)
    number = loaded[source][case_id]
    found = set(query(warehouse, "SELECT column_name, rule FROM audit.quarantine "
                      "WHERE source = ? AND row_number = ?", [source, number]))
    assert found == expected
    in_raw = query(warehouse, f"SELECT count(*) FROM raw.{source} WHERE row_number = ?",
                   [number])[0][0]
    assert in_raw == (0 if expected else 1)


def test_every_rule_is_documented() -> None:
    used = {rule for *_, expected in CASES for _, rule in expected}
    assert used <= set(RULES)


def test_respondent_upn_is_pseudonymised(loaded: dict[str, dict[str, int]]) -> None:
    warehouse = _warehouse(loaded)
    clear = upn(42)
    values = query(warehouse, "SELECT value FROM audit.quarantine WHERE rule = "
                   "'respondent_id_is_upn'")
    assert values and all(v != clear and len(v) == 64 for (v,) in values)
    rows = query(warehouse, "SELECT row_json FROM audit.quarantine_rows")
    assert not any(clear in r for (r,) in rows)


def test_reconciles(loaded: dict[str, dict[str, int]]) -> None:
    warehouse = _warehouse(loaded)
    for read, good, bad in query(warehouse, "SELECT rows_read, rows_loaded, rows_quarantined "
                                 "FROM audit.submission_log"):
        assert read == good + bad
    assert TODAY.year == 2026 and URN == 100000
