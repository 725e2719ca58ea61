"""Spend context and coverage: not suppressed, rolled up by summing, worked by hand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import Fixture, fresh_fixture

YEAR = "2025/26"


# Module-scoped: built once, only read by the tests below.
@pytest.fixture(scope="module")
def funded() -> Iterator[Fixture]:
    with fresh_fixture() as wh:
        wh.group("G1", "201")
        wh.group("G2", "201")
        for urn, group in ((1, "G1"), (2, "G1"), (3, "G1"), (4, "G2")):
            wh.school(urn, group, "201")
        wh.pupils(1, YEAR, 6)
        wh.pupils(2, YEAR, 4)
        wh.pupils(4, YEAR, 5)
        wh.spend(1, YEAR, "staff_development", 300)
        wh.spend(1, YEAR, "one_to_one_support", 500, term="spring")
        wh.spend(2, YEAR, "inclusion_base", 200)
        wh.spend(4, YEAR, "staff_development", 150)
        wh.allocation(1, YEAR, 1000)
        wh.allocation(2, YEAR, 1000)
        wh.allocation(4, YEAR, 300)
        wh.respondent(1, YEAR, "r1", {"P_BEL_1": 4})
        wh.run([YEAR], threshold=10)
        yield wh


def spend(wh: Fixture, indicator_id: str, level: str, place: str | None) -> float:
    column = {"partnership_group": "group_id", "local_authority": "la_code"}.get(level)
    sql = "SELECT value FROM indicators.spend_context WHERE indicator_id = ? AND level = ?"
    params: list[object] = [indicator_id, level]
    if column:
        sql += f" AND {column} = ?"
        params.append(place)
    (row,) = wh.rows(sql, params)
    return float(row["value"])


def test_spend_context_for_a_group(funded: Fixture) -> None:
    # G1: spend 300 + 500 + 200 = 1000 over 10 pupils; systemic 300; individual 500;
    # allocation 2000.
    assert spend(funded, "spend_per_pupil_gbp", "partnership_group", "G1") == 100.0
    assert spend(funded, "systemic_spend_percent", "partnership_group", "G1") == 30.0
    assert spend(funded, "individual_spend_percent", "partnership_group", "G1") == 50.0
    assert spend(funded, "allocation_spent_percent", "partnership_group", "G1") == 50.0


def test_spend_context_rolls_up_by_summing(funded: Fixture) -> None:
    # LA: 1150 spend over 15 pupils; systemic 450 of 1150; allocation 2300.
    assert spend(funded, "spend_per_pupil_gbp", "local_authority", "201") == pytest.approx(
        1150 / 15
    )
    assert spend(funded, "systemic_spend_percent", "national", None) == pytest.approx(
        100 * 450 / 1150
    )
    assert spend(funded, "allocation_spent_percent", "national", None) == pytest.approx(
        100 * 1150 / 2300
    )


def test_coverage_per_source(funded: Fixture) -> None:
    rows = {
        (r["level"], r["group_id"], r["source"]): (
            r["schools_in_group"],
            r["schools_reporting"],
            r["value"],
        )
        for r in funded.rows("SELECT * FROM indicators.coverage")
    }
    assert rows[("partnership_group", "G1", "outcomes")] == (3, 2, pytest.approx(66.67, 0.01))
    assert rows[("partnership_group", "G1", "voice")] == (3, 1, pytest.approx(33.33, 0.01))
    assert rows[("partnership_group", "G2", "voice")] == (1, 0, 0.0)
    assert rows[("local_authority", None, "spend")] == (4, 3, 75.0)
    assert rows[("national", None, "allocations")] == (4, 3, 75.0)


def test_spend_is_never_suppressed(funded: Fixture) -> None:
    # 15 pupils, well below any threshold per school, yet spend is shown: not personal.
    assert not funded.rows(
        "SELECT * FROM audit.suppression WHERE indicator_id IN (SELECT DISTINCT "
        "indicator_id FROM indicators.spend_context)"
    )
    assert all(
        r["value"] is not None for r in funded.rows("SELECT value FROM indicators.spend_context")
    )
