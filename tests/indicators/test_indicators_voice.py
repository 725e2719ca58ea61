"""Pupil and family voice: reverse scoring, skipped items, one respondent counted once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import Fixture, fresh_fixture

YEAR = "2025/26"
URN = 100001


# Module-scoped: built once, only read by the tests below.
@pytest.fixture(scope="module")
def surveyed() -> Iterator[Fixture]:
    with fresh_fixture() as wh:
        wh.group("G1", "201")
        wh.school(URN, "G1", "201")
        # P_BEL_3 ("I often feel left out") is reverse-scored: 6 - response.
        wh.respondent(URN, YEAR, "r1", {"P_BEL_1": 4, "P_BEL_3": 2})  # 4, 4 -> 4.0 positive
        wh.respondent(URN, YEAR, "r2", {"P_BEL_1": 5, "P_BEL_3": 4}, "K")  # 5, 2 -> 3.5
        wh.respondent(URN, YEAR, "r3", {"P_BEL_1": None, "P_BEL_3": 1}, "E")  # 5 -> positive
        wh.respondent(URN, YEAR, "r4", {"P_BEL_1": None, "P_BEL_3": None})  # nothing answered
        wh.respondent(URN, YEAR, "r5", {"P_BEL_1": 3, "P_BEL_3": None})  # 3 -> not positive
        # A parent: 5 and reverse 1 -> 5, 5 -> positive; never counted as a pupil.
        wh.respondent(URN, YEAR, "f1", {"F_CON_1": 5, "F_CON_3": 1}, "K", "parent_carer")
        wh.respondent(URN, YEAR, "f2", {"F_CON_1": 2, "F_CON_3": 5}, "K", "parent_carer")
        wh.run([YEAR])
        yield wh


def test_respondent_domain_scores(surveyed: Fixture) -> None:
    scores = {
        r["respondent_id"]: (r["answered_items"], r["mean_score"], r["is_positive"])
        for r in surveyed.rows(
            "SELECT * FROM marts.fct_respondent_domains WHERE domain = 'belonging'"
        )
    }
    assert scores == {
        "r1": (2, 4.0, True),
        "r2": (2, 3.5, False),
        "r3": (1, 5.0, True),
        "r4": (0, None, None),
        "r5": (1, 3.0, False),
    }


def test_respondent_domains_keep_lineage(surveyed: Fixture) -> None:
    (r1,) = surveyed.rows("SELECT * FROM marts.fct_respondent_domains WHERE respondent_id = 'r1'")
    assert r1["submission_id"] == f"sub-voice-{URN}-{YEAR}"
    assert r1["row_number"] == 2
    assert r1["row_numbers"] == [2, 3]


def test_belonging_by_breakdown(surveyed: Fixture) -> None:
    expected = {
        "All pupils": (2, 4, 50.0),  # r1, r3 positive of r1, r2, r3, r5
        "No SEN provision": (1, 2, 50.0),  # r1 of r1, r5
        "SEN support / SEN without an EHC plan": (0, 1, 0.0),
        "Education, health and care plan": (1, 1, 100.0),
        "All SEN provision": (1, 2, 50.0),
    }
    for breakdown, (num, den, value) in expected.items():
        row = surveyed.value("belonging_percent", YEAR, breakdown, place="G1")
        assert (row["numerator"], row["denominator"], row["value"]) == (num, den, value)


def test_family_confidence_counts_parents_only(surveyed: Fixture) -> None:
    row = surveyed.value("family_confidence_percent", YEAR, place="G1")
    # f1: (5 + 5) / 2 = 5 positive; f2: (2 + 1) / 2 = 1.5 not.
    assert (row["numerator"], row["denominator"], row["pupils"]) == (1, 2, 2)
    assert row["value"] == 50.0
