"""Default partnership groups: each LA's mainstream schools grouped by local authority
district, districts with more than 40 schools split into near-equal parts.

Schools are ordered by ward then URN before splitting, so each part is as local as the
register allows.
"""

from __future__ import annotations

import math

import polars as pl

MAX_SCHOOLS_PER_GROUP = 40
DEFAULT_FROM_YEAR = "2020/21"


def default_groups(register: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (partnership_groups, group_membership) for every mainstream school."""
    mainstream = register.filter(pl.col("is_mainstream")).sort(
        ["la_code", "district_code", "ward_code", "urn"], nulls_last=True
    )
    groups: list[dict[str, object]] = []
    members: list[dict[str, object]] = []
    for (la_code,), la_schools in mainstream.group_by(["la_code"], maintain_order=True):
        la_name = la_schools["la_name"][0]
        number = 0
        for (district,), district_schools in la_schools.group_by(
            ["district_code"], maintain_order=True
        ):
            urns = district_schools["urn"].to_list()
            parts = math.ceil(len(urns) / MAX_SCHOOLS_PER_GROUP)
            size, extra = divmod(len(urns), parts)
            start = 0
            for part in range(parts):
                number += 1
                end = start + size + (1 if part < extra else 0)
                group_id = f"{la_code}-{number:02d}"
                groups.append(
                    {
                        "group_id": group_id,
                        "group_name": f"{la_name} partnership group {number}",
                        "la_code": la_code,
                        "district_code": district,
                    }
                )
                members.extend(
                    {"urn": urn, "group_id": group_id, "from_year": DEFAULT_FROM_YEAR,
                     "to_year": None}
                    for urn in urns[start:end]
                )
                start = end
    return (
        pl.DataFrame(groups, schema={"group_id": pl.String, "group_name": pl.String,
                                     "la_code": pl.String, "district_code": pl.String}),
        pl.DataFrame(members, schema={"urn": pl.Int64, "group_id": pl.String,
                                      "from_year": pl.String, "to_year": pl.String}),
    )
