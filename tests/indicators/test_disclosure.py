"""Disclosure control on hand-made cells and on a small published table."""

from __future__ import annotations

import math

import pytest

from pipelines.indicators.disclosure import (
    ALL,
    ALL_SEN,
    EHC,
    NO_SEN,
    SUPPORT,
    Cell,
    CellKey,
    previous_year,
    primary_reasons,
    publish,
    suppress,
)
from pipelines.indicators.verify import verify_published

from .conftest import Fixture

YEAR = "2025/26"
Z = 1.959963984540054


def person(num: float, den: float, breakdown: str = ALL, group: str = "G1") -> Cell:
    key = CellKey("partnership_group", "201", group, YEAR, breakdown, "suspended_percent")
    return Cell(key, "person", num, den, int(den), 100 * num / den if den else None)


def rules(cell: Cell, threshold: int = 10) -> set[str]:
    return {rule for rule, _ in primary_reasons(cell, threshold)}


def test_primary_rules() -> None:
    assert rules(person(5, 20)) == set()
    assert rules(person(5, 9)) == {"primary_threshold"}
    assert rules(person(1, 20)) == {"primary_numerator"}
    assert rules(person(2, 20)) == {"primary_numerator"}
    assert rules(person(18, 20)) == {"primary_complement"}
    assert rules(person(19, 20)) == {"primary_complement"}
    assert rules(person(0, 20)) == set()  # 0 and all are published, as the rule says
    assert rules(person(20, 20)) == set()
    assert rules(person(1, 3)) == {"primary_threshold", "primary_numerator", "primary_complement"}
    assert rules(person(5, 12), threshold=15) == {"primary_threshold"}


def test_weighted_rates_are_judged_by_children_not_sessions() -> None:
    key = CellKey("partnership_group", "201", "G1", YEAR, ALL, "attendance_percent")
    few = Cell(key, "weighted", numerator=2, denominator=900, pupils=9)
    many = Cell(key, "weighted", numerator=1, denominator=1000, pupils=10)
    assert {r for r, _ in primary_reasons(few, 10)} == {"primary_threshold"}
    assert primary_reasons(many, 10) == []


def test_secondary_suppression_reaches_a_fixed_point() -> None:
    # One group, LA = group, national = LA. EHC 4 pupils fails the threshold; then
    # All SEN = K + E needs a second cell (K, the next smallest), and every geography
    # equation (LA = group; national = LA) needs the matching LA and national cells.
    cells = []
    for level, la, group in (
        ("partnership_group", "201", "G1"),
        ("local_authority", "201", None),
        ("national", None, None),
    ):
        for breakdown, num, den in (
            (ALL, 20, 64),
            (ALL_SEN, 6, 24),
            (EHC, 1, 4),
            (SUPPORT, 5, 20),
            (NO_SEN, 14, 40),
        ):
            key = CellKey(level, la, group, YEAR, breakdown, "suspended_percent")
            cells.append(Cell(key, "person", num, den, den, 100 * num / den))
    decided = suppress(cells, 10)
    hidden = {(k.level, k.sen_breakdown) for k in decided}
    assert hidden == {
        (level, b)
        for level in ("partnership_group", "local_authority", "national")
        for b in (EHC, SUPPORT)
    }
    group_ehc = CellKey("partnership_group", "201", "G1", YEAR, EHC, "suspended_percent")
    assert {s.rule for s in decided[group_ehc]} == {"primary_threshold", "primary_numerator"}
    group_k = group_ehc._replace(sen_breakdown=SUPPORT)
    assert [s.rule for s in decided[group_k]] == ["secondary_breakdown"]


def test_secondary_across_groups_picks_the_smallest() -> None:
    # LA 201 = G1 + G2 + G3 for All pupils; G1 is too small, so G2 (smaller than G3)
    # goes too, and the LA stays published.
    cells = [person(3, 8, group="G1"), person(5, 30, group="G2"), person(9, 50, group="G3")]
    la = CellKey("local_authority", "201", None, YEAR, ALL, "suspended_percent")
    cells.append(Cell(la, "person", 17, 88, 88, 100 * 17 / 88))
    decided = suppress(cells, 10)
    assert {k.group_id for k in decided} == {"G1", "G2"}
    (why,) = decided[cells[1].key]
    assert why.rule == "secondary_geography"


def test_previous_year() -> None:
    assert previous_year("2025/26") == "2024/25"
    assert previous_year("2000/01") == "1999/00"


@pytest.fixture
def published(wh: Fixture) -> Fixture:
    """One group: No SEN 10 of 40 suspended, SEN support 6 of 12, one EHC pupil."""
    wh.group("G1", "201")
    wh.school(1, "G1", "201")
    wh.pupils(1, YEAR, 10, suspensions=1)
    wh.pupils(1, YEAR, 30)
    wh.pupils(1, YEAR, 6, sen_provision="K", suspensions=1)
    wh.pupils(1, YEAR, 6, sen_provision="K")
    wh.pupils(1, YEAR, 1, sen_provision="E")
    wh.run([YEAR], threshold=10)
    return wh


def pub(
    wh: Fixture,
    breakdown: str,
    indicator_id: str = "suspended_percent",
    level: str = "partnership_group",
) -> dict[str, object]:
    return wh.value(
        indicator_id,
        YEAR,
        breakdown,
        level,
        "G1" if level == "partnership_group" else None,
        table="indicators.published_values",
    )


def test_published_values_are_formatted(published: Fixture) -> None:
    row = pub(published, ALL)
    # 16 of 53: 30.19% -> 30.2; the gap to No SEN (25.0%) 5.19 -> 5.2 pp.
    p, n = 16 / 53, 53
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    assert row == {
        "level": "partnership_group",
        "la_code": "201",
        "group_id": "G1",
        "academic_year": YEAR,
        "sen_breakdown": ALL,
        "indicator_id": "suspended_percent",
        "kind": "person",
        "numerator": "16",
        "denominator": "53",
        "value": "30.2",
        "ci_lower": f"{100 * (centre - half):.1f}",
        "ci_upper": f"{100 * (centre + half):.1f}",
        "gap_pp": "5.2",
        "change_pp": "x",  # the first year loaded
    }
    assert pub(published, NO_SEN)["gap_pp"] == "z"


def test_small_cells_and_their_neighbours_are_suppressed(published: Fixture) -> None:
    # EHC (1 pupil) fails the threshold; SEN support (12) is the next smallest in
    # All SEN = SEN support + EHC, so it goes too; All SEN (13) stays.
    for breakdown in (EHC, SUPPORT):
        row = pub(published, breakdown)
        figures = ("numerator", "denominator", "value", "ci_lower", "ci_upper", "gap_pp")
        assert {row[c] for c in figures} == {"c"}
        assert row["change_pp"] == "x"  # the first year: not available either way
    assert pub(published, ALL_SEN)["value"] == "46.2"  # 6 of 13
    reasons = {
        (r["level"], r["sen_breakdown"], r["rule"])
        for r in published.rows(
            "SELECT * FROM audit.suppression WHERE indicator_id = 'suspended_percent'"
        )
    }
    assert ("partnership_group", EHC, "primary_threshold") in reasons
    assert ("partnership_group", EHC, "primary_complement") in reasons
    assert ("partnership_group", SUPPORT, "secondary_breakdown") in reasons
    # The LA and national cells equal the group's (one group): suppressed the same way.
    assert ("local_authority", EHC, "primary_threshold") in reasons
    assert {r for lv, b, r in reasons if lv == "national" and b == SUPPORT} <= {
        "secondary_breakdown",
        "secondary_geography",
    }
    assert pub(published, SUPPORT, level="national")["value"] == "c"


def test_weighted_rates_have_no_interval(published: Fixture) -> None:
    row = pub(published, ALL, "attendance_percent")
    assert (row["value"], row["ci_lower"], row["ci_upper"]) == ("100.0", "z", "z")


def test_no_blanks_and_only_ees_symbols(published: Fixture) -> None:
    bad = published.rows(
        "SELECT * FROM indicators.published_values WHERE "
        + " OR ".join(
            f"{c} IS NULL OR {c} = '' OR NOT ({c} IN ('c', 'z', 'x') "
            f"OR regexp_full_match({c}, '-?[0-9]+(\\.[0-9])?'))"
            for c in (
                "numerator",
                "denominator",
                "value",
                "ci_lower",
                "ci_upper",
                "gap_pp",
                "change_pp",
            )
        )
    )
    assert bad == []
    assert verify_published(published.conn, 10) == []


def test_the_check_catches_a_revealed_cell(published: Fixture) -> None:
    published.conn.execute(
        "UPDATE indicators.published_values SET numerator = '0', denominator = '1', "
        "value = '0.0', ci_lower = '0.0', ci_upper = '79.3', gap_pp = '-25.0' "
        "WHERE level = 'partnership_group' AND sen_breakdown = ? "
        "AND indicator_id = 'suspended_percent'",
        [EHC],
    )
    problems = {f.problem for f in verify_published(published.conn, 10)}
    assert "published cells breaking the primary rule" in problems
    assert "breakdown equations with exactly one suppressed cell" in problems
    assert "geography equations with exactly one suppressed cell" in problems


def test_the_check_catches_blanks_and_wrong_symbols(published: Fixture) -> None:
    published.conn.execute(
        "UPDATE indicators.published_values SET change_pp = '' "
        "WHERE level = 'national' AND sen_breakdown = ? AND indicator_id = 'suspended_percent'",
        [ALL],
    )
    published.conn.execute(
        "UPDATE indicators.published_values SET gap_pp = '..' "
        "WHERE level = 'national' AND sen_breakdown = ? AND indicator_id = 'suspended_percent'",
        [NO_SEN],
    )
    problems = {f.problem for f in verify_published(published.conn, 10)}
    assert problems == {"blank, NULL or malformed published values"}


def test_publish_never_leaves_blanks_for_missing_values() -> None:
    cell = person(0, 0)  # no pupils: value NULL; with threshold 0 it is not suppressed
    (row,) = publish([cell], suppress([cell], 0))
    assert row["value"] == "x"
    assert None not in row.values() or row["la_code"] == "201"


def test_sen_only_indicators_mark_no_sen_not_applicable(published: Fixture) -> None:
    # Plan review counts only pupils with SEN: 12 SEN support + 1 EHC, none reviewed.
    no_sen = pub(published, NO_SEN, "plan_reviewed_percent")
    figures = ("numerator", "denominator", "value", "ci_lower", "ci_upper", "gap_pp",
               "change_pp")  # fmt: skip
    assert {no_sen[c] for c in figures} == {"z"}
    # All pupils = All SEN here; with No SEN known to be empty both can be shown.
    for breakdown in (ALL, ALL_SEN):
        row = pub(published, breakdown, "plan_reviewed_percent")
        assert (row["numerator"], row["denominator"], row["value"], row["gap_pp"]) == (
            "0", "13", "0.0", "z")  # fmt: skip
    assert pub(published, EHC, "plan_reviewed_percent")["value"] == "c"
    assert pub(published, SUPPORT, "plan_reviewed_percent")["value"] == "c"
    assert verify_published(published.conn, 10) == []
