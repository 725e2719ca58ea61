"""School identity over time: follow GIAS successor links to the URN in use now.

An academy conversion closes the old URN and opens a new one; without this, a school's
trend would break at conversion. A school split in two has no single successor, so split
links are not followed.
"""

from __future__ import annotations

import polars as pl

SUCCESSOR_TYPES = ["Successor", "Successor - merged", "Successor - amalgamated",
                   "Result of Amalgamation"]


def current_urns(schools: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """(urn, current_urn) for every URN in the register or the links.

    Where a URN has several successors the most recently established one is taken.
    Chains are followed to the end; a URN whose chain ends outside the register keeps
    its own URN, since data under an unknown URN could not be loaded anyway.
    """
    successors = (
        links.filter(pl.col("link_type").is_in(SUCCESSOR_TYPES))
        .sort(["urn", "link_established_on", "link_urn"], nulls_last=False)
        .group_by("urn", maintain_order=True)
        .last()
    )
    nxt = dict(zip(successors["urn"].to_list(), successors["link_urn"].to_list(), strict=True))
    registered = set(schools["urn"].to_list())
    urns = registered | set(links["urn"].to_list())
    result: list[tuple[int, int]] = []
    for urn in urns:
        seen = {urn}
        current = urn
        while current in nxt and nxt[current] not in seen:
            current = nxt[current]
            seen.add(current)
        result.append((urn, current if current in registered else urn))
    return pl.DataFrame(result, schema={"urn": pl.Int64, "current_urn": pl.Int64},
                        orient="row").sort("urn")
