"""Each outcome indicator on a handful of pupils, with the answer worked out by hand.

One group (G1, LA 201), one school, one year, so the `All pupils` group cell is simply
the rows added here.
"""

from __future__ import annotations

import datetime as dt

import pytest

from .conftest import Fixture

YEAR = "2025/26"
URN = 100001


@pytest.fixture
def one_school(wh: Fixture) -> Fixture:
    wh.group("G1", "201")
    wh.school(URN, "G1", "201")
    return wh


def check(
    wh: Fixture,
    indicator_id: str,
    numerator: float,
    denominator: float,
    pupils: int,
    value: float,
    breakdown: str = "All pupils",
) -> dict[str, object]:
    wh.run([YEAR])
    row = wh.value(indicator_id, YEAR, breakdown, place="G1")
    assert (row["numerator"], row["denominator"], row["pupils"]) == (
        numerator,
        denominator,
        pupils,
    )
    assert row["value"] == pytest.approx(value, abs=0.05)
    return row


def test_attendance_is_sessions_attended_over_possible(one_school: Fixture) -> None:
    for attended in (6, 6, 5, 4, 4):
        one_school.pupil(URN, YEAR, sessions_possible=6, sessions_attended=attended)
    # Nothing possible: adds nothing to either sum and is not a child behind the rate.
    one_school.pupil(URN, YEAR, sessions_possible=0, sessions_attended=0)
    row = check(one_school, "attendance_percent", 25, 30, 5, 83.3)  # 25 / 30
    assert row["kind"] == "weighted"
    assert row["ci_lower"] is None and row["ci_upper"] is None


def test_persistent_absence_is_below_90_percent(one_school: Fixture) -> None:
    for possible, attended in [(100, 100), (100, 90), (100, 89), (200, 150), (0, 0)]:
        one_school.pupil(URN, YEAR, sessions_possible=possible, sessions_attended=attended)
    # 89% and 75% are persistent absence; exactly 90% is not; 0 possible is left out.
    row = check(one_school, "persistent_absence_percent", 2, 4, 4, 50.0)
    assert row["kind"] == "person"


def test_suspended_counts_pupils_not_suspensions(one_school: Fixture) -> None:
    for n in (0, 1, 3, 0, 0):
        one_school.pupil(URN, YEAR, suspensions=n)
    check(one_school, "suspended_percent", 2, 5, 5, 40.0)


def test_permanently_excluded(one_school: Fixture) -> None:
    for excluded in (True, False, False, False):
        one_school.pupil(URN, YEAR, permanently_excluded=excluded)
    check(one_school, "permanently_excluded_percent", 1, 4, 4, 25.0)


def test_unexplained_leavers(one_school: Fixture) -> None:
    one_school.pupil(URN, YEAR)
    for reason in (
        "transfer",
        "moved_away",
        "elective_home_education",
        "alternative_provision",
        "other",
        "unknown",
        "end_of_phase",
    ):
        one_school.pupil(URN, YEAR, left_roll=True, leaving_reason=reason)
    check(one_school, "unexplained_leaver_percent", 4, 8, 8, 50.0)


def test_inclusion_base_majority_and_mainstream_time(one_school: Fixture) -> None:
    for attended, base in [(100, 60), (100, 50), (100, 10), (100, 0)]:
        one_school.pupil(URN, YEAR, sessions_attended=attended, base_sessions=base)
    # Base users: 3. More than half in the base: only the 60 (50 is exactly half).
    check(one_school, "base_majority_percent", 1, 3, 3, 33.3)
    # Mainstream time over base users: (40 + 50 + 90) / 300.
    row = one_school.value("mainstream_time_percent", YEAR, place="G1")
    assert (row["numerator"], row["denominator"], row["pupils"]) == (180, 300, 3)
    assert row["value"] == pytest.approx(60.0)
    assert row["kind"] == "weighted"


def test_plan_reviewed_inside_the_academic_year(one_school: Fixture) -> None:
    one_school.pupil(URN, YEAR, sen_provision="K", plan_reviewed_on=dt.date(2025, 9, 1))
    one_school.pupil(URN, YEAR, sen_provision="E", plan_reviewed_on=dt.date(2026, 8, 31))
    one_school.pupil(URN, YEAR, sen_provision="K", plan_reviewed_on=dt.date(2025, 8, 31))
    one_school.pupil(URN, YEAR, sen_provision="K", plan_reviewed_on=None)
    one_school.pupil(URN, YEAR, sen_provision="N", plan_reviewed_on=dt.date(2025, 10, 1))
    check(one_school, "plan_reviewed_percent", 2, 4, 4, 50.0)
    check(one_school, "plan_reviewed_percent", 1, 1, 1, 100.0, "Education, health and care plan")


def test_early_identification_year_3_and_above(one_school: Fixture) -> None:
    one_school.pupil(URN, YEAR, sen_provision="K", year_group="5", first_identified_year_group="R")
    one_school.pupil(URN, YEAR, sen_provision="E", year_group="3", first_identified_year_group="2")
    one_school.pupil(URN, YEAR, sen_provision="K", year_group="4", first_identified_year_group="3")
    one_school.pupil(
        URN, YEAR, sen_provision="K", year_group="2", first_identified_year_group="1"
    )  # too young to count
    one_school.pupil(
        URN, YEAR, sen_provision="K", year_group="R", first_identified_year_group="R"
    )  # too young to count
    one_school.pupil(URN, YEAR, sen_provision="N", year_group="6")
    check(one_school, "early_identified_percent", 2, 3, 3, 66.7)


def test_sustained_destinations_of_end_of_phase_leavers(one_school: Fixture) -> None:
    leaver = {"left_roll": True, "leaving_reason": "end_of_phase"}
    one_school.pupil(
        URN, YEAR, year_group="11", destination="education", destination_sustained=True, **leaver
    )
    one_school.pupil(
        URN, YEAR, year_group="12", destination="employment", destination_sustained=False, **leaver
    )
    one_school.pupil(
        URN, YEAR, year_group="11", destination="neet", destination_sustained=False, **leaver
    )
    one_school.pupil(
        URN,
        YEAR,
        year_group="13",
        destination="apprenticeship",
        destination_sustained=True,
        **leaver,
    )
    one_school.pupil(
        URN, YEAR, year_group="10", destination="education", destination_sustained=True, **leaver
    )  # below year 11
    one_school.pupil(URN, YEAR, year_group="11", left_roll=True, leaving_reason="transfer")
    check(one_school, "sustained_destination_percent", 2, 4, 4, 50.0)


def test_expected_standard_ignores_pupils_without_a_result(one_school: Fixture) -> None:
    for met in (True, True, False, None, None):
        one_school.pupil(URN, YEAR, met_expected_standard=met)
    check(one_school, "expected_standard_percent", 2, 3, 3, 66.7)


def test_plan_targets_met_is_weighted_by_targets(one_school: Fixture) -> None:
    one_school.pupil(URN, YEAR, sen_provision="K", plan_targets_set=4, plan_targets_met=3)
    one_school.pupil(URN, YEAR, sen_provision="E", plan_targets_set=6, plan_targets_met=2)
    one_school.pupil(URN, YEAR, sen_provision="K", plan_targets_set=0, plan_targets_met=0)
    one_school.pupil(URN, YEAR, sen_provision="K", plan_targets_set=5, plan_targets_met=None)
    one_school.pupil(URN, YEAR, sen_provision="N")
    row = check(one_school, "plan_targets_met_percent", 5, 10, 2, 50.0)
    assert row["kind"] == "weighted"


def test_facts_keep_lineage_and_group(one_school: Fixture) -> None:
    one_school.pupil(URN, YEAR)
    one_school.run([YEAR])
    (fact,) = one_school.rows("SELECT * FROM marts.fct_pupil_years")
    assert fact["submission_id"] == f"sub-out-{URN}-{YEAR}"
    assert fact["row_number"] == 2
    assert (fact["group_id"], fact["la_code"]) == ("G1", "201")
