"""How a yearly run splits its local authorities into shards (pipelines.shards.split)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipelines.shards import ShardError, shard_name, split


def test_by_hand() -> None:
    # Heaviest first into the lightest shard: 886 (9) → A; 330 (5) → B; 201 (4) → B (5 < 9);
    # 420 (1): A and B both weigh 9, and both hold... A one LA, B two: A.
    weights = {"886": 9, "330": 5, "201": 4, "420": 1}
    assert split(list(weights), weights, 2) == [["201", "330"], ["420", "886"]]
    assert split(list(weights), weights, 1) == [["201", "330", "420", "886"]]
    # Never more shards than LAs, never an empty one.
    assert split(["805", "857"], {"805": 1, "857": 1}, 8) == [["805"], ["857"]]
    assert split([], {}, 2) == []
    assert split(["805", "857"], {"805": 0, "857": 0}, 2) == [["805"], ["857"]]


def test_names() -> None:
    assert shard_name(["886"]) == "la_886"
    assert shard_name(["201", "886"], 2, 3) == "las_2_of_3"
    for bad in ([], ["88 6"], ["../x"]):
        try:
            shard_name(bad)
        except ShardError:
            continue
        raise AssertionError(f"{bad} accepted")


@given(st.dictionaries(st.from_regex(r"[0-9]{3}", fullmatch=True),
                       st.integers(min_value=0, max_value=500), max_size=40),
       st.integers(min_value=1, max_value=8))
def test_every_local_authority_in_exactly_one_balanced_shard(
    weights: dict[str, int], count: int,
) -> None:
    shards = split(list(weights), weights, count)
    flat = [la for shard in shards for la in shard]
    assert sorted(flat) == sorted(weights)  # each LA once
    assert len(shards) == min(count, len(weights))
    assert all(shard == sorted(shard) and shard for shard in shards)
    assert split(list(reversed(weights)), weights, count) == shards  # order-independent
    if shards:
        loads = [sum(weights[la] for la in shard) for shard in shards]
        # Greedy heaviest-first: no shard exceeds another by more than one LA's weight.
        assert max(loads) - min(loads) <= max(weights.values())
