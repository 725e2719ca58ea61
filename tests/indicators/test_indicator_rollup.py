"""SEN breakdowns, levels, group membership by year, Wilson intervals, gap and change."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from .conftest import Fixture, fresh_fixture

Y1, Y2 = "2024/25", "2025/26"
Z = 1.959963984540054


def wilson(x: float, n: float) -> tuple[float, float]:
    """The Wilson score interval as written in any textbook, in percent."""
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return 100 * (centre - half), 100 * (centre + half)


# Module-scoped: built once, only read by the tests below.
@pytest.fixture(scope="module")
def three_groups() -> Iterator[Fixture]:
    """G1 and G2 in LA 201, G3 in LA 202; suspensions in 2025/26 (and 2024/25 for G1)."""
    with fresh_fixture() as wh:
        for group, la in (("G1", "201"), ("G2", "201"), ("G3", "202")):
            wh.group(group, la)
        wh.school(1, "G1", "201")
        wh.school(2, "G2", "201")
        wh.school(3, "G3", "202")
        # G1: N 1 of 10 suspended, K 2 of 4, E 1 of 2.
        wh.pupils(1, Y2, 1, suspensions=1)
        wh.pupils(1, Y2, 9)
        wh.pupils(1, Y2, 2, sen_provision="K", suspensions=2)
        wh.pupils(1, Y2, 2, sen_provision="K")
        wh.pupils(1, Y2, 1, sen_provision="E", suspensions=1)
        wh.pupils(1, Y2, 1, sen_provision="E")
        # G2: N 0 of 5. G3: K 3 of 3.
        wh.pupils(2, Y2, 5)
        wh.pupils(3, Y2, 3, sen_provision="K", suspensions=1)
        # The year before, G1 only: N 2 of 10.
        wh.pupils(1, Y1, 2, suspensions=1)
        wh.pupils(1, Y1, 8)
        wh.run([Y1, Y2])
        yield wh


def nd(
    wh: Fixture,
    breakdown: str,
    level: str = "partnership_group",
    place: str | None = "G1",
    year: str = Y2,
) -> tuple[float, float]:
    row = wh.value("suspended_percent", year, breakdown, level, place)
    return row["numerator"], row["denominator"]


def test_sen_breakdowns(three_groups: Fixture) -> None:
    assert nd(three_groups, "All pupils") == (4, 16)
    assert nd(three_groups, "All SEN provision") == (3, 6)
    assert nd(three_groups, "Education, health and care plan") == (1, 2)
    assert nd(three_groups, "SEN support / SEN without an EHC plan") == (2, 4)
    assert nd(three_groups, "No SEN provision") == (1, 10)


def test_levels_add_up(three_groups: Fixture) -> None:
    assert nd(three_groups, "All pupils", "local_authority", "201") == (4, 21)
    assert nd(three_groups, "All pupils", "local_authority", "202") == (3, 3)
    assert nd(three_groups, "All pupils", "national", None) == (7, 24)
    assert nd(three_groups, "All SEN provision", "national", None) == (6, 9)


def test_every_group_gets_every_breakdown(three_groups: Fixture) -> None:
    # G2 has no pupils with SEN: the cells exist with zero, so nothing is left to be
    # read as zero by a reader doing subtraction.
    row = three_groups.value("suspended_percent", Y2, "All SEN provision", place="G2")
    assert (row["numerator"], row["denominator"], row["pupils"], row["value"]) == (0, 0, 0, None)
    counts = three_groups.rows(
        "SELECT level, count(*) AS n FROM indicators.indicator_values "
        "WHERE indicator_id = 'suspended_percent' AND academic_year = ? GROUP BY level",
        [Y2],
    )
    assert {r["level"]: r["n"] for r in counts} == {
        "partnership_group": 15,
        "local_authority": 10,
        "national": 5,
    }


def test_wilson_interval(three_groups: Fixture) -> None:
    row = three_groups.value("suspended_percent", Y2, "All pupils", place="G1")
    lower, upper = wilson(4, 16)
    assert row["ci_lower"] == pytest.approx(lower)
    assert row["ci_upper"] == pytest.approx(upper)
    assert row["ci_lower"] < row["value"] == 25.0 < row["ci_upper"]
    # 0 of 5 (G2): the lower bound is 0 and the upper z²/(n + z²), about 43.4%.
    g2 = three_groups.value("suspended_percent", Y2, "All pupils", place="G2")
    assert g2["ci_lower"] == pytest.approx(0.0, abs=1e-9)
    assert g2["ci_upper"] == pytest.approx(100 * Z * Z / (5 + Z * Z))


def test_gap_to_no_sen(three_groups: Fixture) -> None:
    row = three_groups.value(
        "suspended_percent", Y2, "SEN support / SEN without an EHC plan", place="G1"
    )
    assert row["gap_pp"] == pytest.approx(50.0 - 10.0)
    no_sen = three_groups.value("suspended_percent", Y2, "No SEN provision", place="G1")
    assert no_sen["gap_pp"] is None


def test_change_from_previous_year(three_groups: Fixture) -> None:
    row = three_groups.value("suspended_percent", Y2, "No SEN provision", place="G1")
    assert row["change_pp"] == pytest.approx(10.0 - 20.0)
    first = three_groups.value("suspended_percent", Y1, "No SEN provision", place="G1")
    assert first["change_pp"] is None


def test_school_counted_in_the_group_it_belonged_to_that_year(wh: Fixture) -> None:
    wh.group("G1", "201")
    wh.group("G2", "201")
    wh.school(7, "G1", "201", from_year="2020/21", to_year="2024/25")
    wh.member(7, "G2", "2025/26", None)
    wh.pupils(7, Y1, 3)
    wh.pupils(7, Y2, 5)
    wh.run([Y1, Y2])
    placed = {
        (r["academic_year"], r["group_id"])
        for r in wh.rows("SELECT * FROM marts.dim_school_years WHERE urn = 7")
    }
    assert placed == {(Y1, "G1"), (Y2, "G2")}
    assert wh.value("suspended_percent", Y1, place="G1")["denominator"] == 3
    assert wh.value("suspended_percent", Y2, place="G2")["denominator"] == 5
    # A group with no data in a year does not appear that year.
    assert not wh.rows(
        "SELECT * FROM indicators.indicator_values WHERE group_id = 'G1' AND academic_year = ?",
        [Y2],
    )


def test_converted_school_keeps_its_group_under_the_new_urn(wh: Fixture) -> None:
    wh.group("G1", "201")
    wh.school(20, "G1", "201", current_urn=21)  # the predecessor is the group member
    wh.school(21, None, "201")
    wh.pupils(21, Y2, 4)  # staging keys records by the current URN
    wh.run([Y2])
    (dim,) = wh.rows("SELECT * FROM marts.dim_school_years")
    assert (dim["urn"], dim["group_id"], dim["la_code"]) == (21, "G1", "201")


def test_school_outside_any_group_counts_nowhere(wh: Fixture) -> None:
    wh.group("G1", "201")
    wh.school(1, "G1", "201")
    wh.school(9, None, "201")
    wh.pupils(1, Y2, 4)
    wh.pupils(9, Y2, 6)
    wh.run([Y2])
    assert wh.value("suspended_percent", Y2, "All pupils", "national")["denominator"] == 4
    (dim,) = wh.rows("SELECT * FROM marts.dim_school_years WHERE urn = 9")
    assert dim["group_id"] is None and dim["la_code"] == "201"
