"""Reference data: the register, default partnership groups and school identity over time."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.reference.assets import read_seed
from pipelines.reference.groups import MAX_SCHOOLS_PER_GROUP, default_groups
from pipelines.reference.links import current_urns


@pytest.fixture(scope="module")
def schools() -> pl.DataFrame:
    return read_seed("schools")


def test_register_holds_every_mainstream_school_of_england(schools: pl.DataFrame) -> None:
    # SOURCES.md: 16,783 primary, 3,444 secondary and 383 nursery state-funded schools.
    mainstream = schools.filter(pl.col("is_mainstream"))
    assert mainstream.height == 16_783 + 3_444 + 383
    assert schools["urn"].n_unique() == schools.height
    assert mainstream["la_code"].n_unique() >= 150
    assert (mainstream["la_code"].str.len_chars() == 3).all()


def test_seeded_groups_put_every_mainstream_school_in_exactly_one_group(
    schools: pl.DataFrame,
) -> None:
    membership = read_seed("group_membership")
    groups = read_seed("partnership_groups")
    mainstream = set(schools.filter(pl.col("is_mainstream"))["urn"].to_list())
    assert set(membership["urn"].to_list()) == mainstream
    assert membership["urn"].n_unique() == membership.height
    sizes = membership.group_by("group_id").len()
    largest = sizes["len"].max()
    assert isinstance(largest, int) and largest <= MAX_SCHOOLS_PER_GROUP
    # Every group sits inside one LA, and every school's group is in its own LA.
    joined = membership.join(groups, on="group_id").join(
        schools.select("urn", pl.col("la_code").alias("school_la")), on="urn"
    )
    assert (joined["la_code"] == joined["school_la"]).all()


def _school(urn: int, la: str, district: str, ward: str, mainstream: bool = True) -> dict:
    return {"urn": urn, "la_code": la, "la_name": f"LA {la}", "district_code": district,
            "ward_code": ward, "is_mainstream": mainstream}


def test_groups_follow_districts_and_split_large_ones_evenly() -> None:
    # District D1 has 85 schools: more than 40, so it splits into ceil(85/40) = 3 groups
    # of 29, 28, 28 (as equal as possible). D2 has 3 schools: one group. The special
    # school is in no group.
    rows = [_school(1000 + i, "999", "D1", f"W{i // 10}") for i in range(85)]
    rows += [_school(2000 + i, "999", "D2", "W9") for i in range(3)]
    rows.append(_school(3000, "999", "D2", "W9", mainstream=False))
    groups, members = default_groups(pl.DataFrame(rows))
    sizes = members.group_by("group_id").len().sort("group_id")["len"].to_list()
    assert sizes == [29, 28, 28, 3]
    assert groups["district_code"].to_list() == ["D1", "D1", "D1", "D2"]
    assert 3000 not in members["urn"].to_list()
    assert members["to_year"].null_count() == members.height


def test_academy_conversion_keeps_history_under_the_current_urn() -> None:
    schools = pl.DataFrame({"urn": [1, 2, 3, 10, 11]})
    links = pl.DataFrame(
        {
            # 1 converted to 2, which later merged into 3; 10 split (not followed);
            # 11's successor 99 is not in the register, so 11 keeps its own URN.
            "urn": [1, 2, 10, 11],
            "link_urn": [2, 3, 12, 99],
            "link_type": ["Successor", "Successor - merged", "Successor - Split School",
                          "Successor"],
            "link_established_on": [None, None, None, None],
        },
        schema_overrides={"link_established_on": pl.Date},
    )
    mapping = dict(current_urns(schools, links).iter_rows())
    assert mapping[1] == 3
    assert mapping[2] == 3
    assert mapping[3] == 3
    assert mapping[10] == 10
    assert mapping[11] == 11


def test_real_gias_links_resolve_a_known_conversion() -> None:
    links = read_seed("gias_links")
    mapping = dict(current_urns(read_seed("schools"), links).iter_rows())
    registered = set(read_seed("schools")["urn"].to_list())
    # Every mapped URN lands on a school in the register.
    assert all(current in registered for urn, current in mapping.items() if urn != current)
    # And real predecessors are mapped: at least thousands of conversions in England.
    assert sum(1 for urn, current in mapping.items() if urn != current) > 1000
