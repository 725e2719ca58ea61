"""Pupils on roll, followed from year to year.

A pupil keeps their UPN and latent traits for as long as the simulation sees them. Each
September stayers move up a year group; end-of-phase leavers whose next year group is the
entry year of another school in the LA (year 6 -> 7, infant -> junior, nursery school ->
reception, year 11 -> a 16-19 school) form a pool from which those schools' intakes are
drawn, so the same child appears at their primary and then at their secondary. Remaining
places are filled by children new to the LA, who get UPNs issued by the school in that year.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipelines.generate import upn
from pipelines.generate.academic import N_YG, Y_R
from pipelines.generate.structure import Structure

TRAITS = ("z_need", "z_abs", "z_behav", "z_attain", "z_voice")
# Share of joiners outside the entry year group who arrive during the year rather than in
# September (their possible sessions are pro rata).
MID_YEAR_JOIN_SHARE = 0.3


@dataclass
class Roll:
    """Parallel arrays, one element per pupil on roll in a year.

    school: index into the LA's Structure; yg: year group index; upn: 12-digit code;
    z_*: persistent standard-normal traits; need: primary need index (-1 none);
    first_id: year group index when SEN was first identified (-1 never); sen_prev: last
    year's provision (0 N, 1 K, 2 E); history: already seen by the simulation (so a first
    identification now happened now); join_frac: share of the year on roll after joining.
    """

    cols: dict[str, NDArray[Any]]

    def __len__(self) -> int:
        return int(self.cols["school"].size)

    def __getitem__(self, name: str) -> NDArray[Any]:
        return self.cols[name]

    def take(self, index: NDArray[np.integer] | NDArray[np.bool_]) -> Roll:
        return Roll({k: v[index] for k, v in self.cols.items()})

    @staticmethod
    def concat(parts: Iterable[Roll]) -> Roll:
        parts = list(parts)
        return Roll({k: np.concatenate([p.cols[k] for p in parts]) for k in parts[0].cols})


class UpnAllocator:
    """Issues serial numbers per (school, year of allocation), as schools do."""

    def __init__(self, la_code: int, structure: Structure) -> None:
        self.la = la_code
        self.estab = structure.estab
        self.next_serial: dict[tuple[int, int], int] = {}

    def issue(self, school: NDArray[np.int64], year2: NDArray[np.int64]) -> NDArray[np.int64]:
        """UPN codes for new pupils (unique within the LA run)."""
        key = school * 100 + year2
        order = np.argsort(key, kind="stable")
        uniq, first, counts = np.unique(key[order], return_index=True, return_counts=True)
        base = np.array([self.next_serial.get((int(k) // 100, int(k) % 100), 0) for k in uniq],
                        dtype=np.int64)
        for k, b, c in zip(uniq.tolist(), base.tolist(), counts.tolist(), strict=True):
            self.next_serial[(k // 100, k % 100)] = b + c
        rank = np.arange(key.size) - np.repeat(first, counts)
        serial = np.empty(key.size, dtype=np.int64)
        serial[order] = np.repeat(base, counts) + rank
        codes = upn.code(self.la, self.estab[school], year2, serial)
        full = serial > 999
        if full.any():
            # A 3-digit serial ran out (a very large school): issue those from a year of
            # allocation 50 years away, which the simulation never otherwise uses.
            codes[full] = self.issue(school[full], (year2[full] + 50) % 100)
        return codes


def new_pupils(rng: np.random.Generator, school: NDArray[np.int64], year_group: NDArray[np.int64],
               codes: NDArray[np.int64], join_frac: NDArray[np.float64]) -> Roll:
    n = school.size
    cols: dict[str, NDArray[Any]] = {
        "school": school.astype(np.int64),
        "yg": year_group.astype(np.int64),
        "upn": codes,
        "need": np.full(n, -1, np.int64),
        "first_id": np.full(n, -1, np.int64),
        "sen_prev": np.zeros(n, np.int64),
        "history": np.zeros(n, np.bool_),
        "join_frac": join_frac.astype(np.float64),
    }
    for t in TRAITS:
        cols[t] = rng.standard_normal(n)
    return Roll(cols)


def initial_roll(rng: np.random.Generator, structure: Structure, alloc: UpnAllocator,
                 start: int) -> Roll:
    """Everyone on roll in the first generated September; UPNs issued when they started."""
    flat = structure.target.ravel()
    cell = np.repeat(np.arange(flat.size), flat)
    school, year_group = cell // N_YG, cell % N_YG
    year2 = (start - np.maximum(year_group - Y_R, 0)) % 100
    codes = alloc.issue(school, year2)
    roll = new_pupils(rng, school, year_group, codes, np.ones(school.size))
    return roll.take(np.lexsort((roll["upn"], roll["yg"], roll["school"])))


def next_roll(rng: np.random.Generator, roll: Roll, left: NDArray[np.bool_],
              end_of_phase: NDArray[np.bool_], structure: Structure, alloc: UpnAllocator,
              next_start: int) -> Roll:
    """The roll next September: stayers moved up, intakes from the pool, then newcomers."""
    stay = roll.take(~left)
    stay.cols["yg"] = stay["yg"] + 1
    stay.cols["join_frac"] = np.ones(len(stay))
    pool = roll.take(end_of_phase & (roll["yg"] + 1 < N_YG))
    pool.cols["yg"] = pool["yg"] + 1
    pool.cols["join_frac"] = np.ones(len(pool))

    target = structure.target
    noisy = np.where(target > 0, np.round(target * np.exp(rng.normal(0, 0.04, target.shape))), 0)
    have = np.bincount(stay["school"] * N_YG + stay["yg"], minlength=target.size)
    need = np.maximum(noisy.ravel() - have, 0).astype(np.int64)
    slots = rng.permutation(np.repeat(np.arange(need.size), need))
    s_school, s_yg = slots // N_YG, slots % N_YG
    is_entry = s_yg == structure.entry[s_school]

    # Entry places take children from the LA's pool of leavers moving up a phase.
    from_pool = np.zeros(slots.size, dtype=np.bool_)
    pool_pick = np.full(slots.size, -1, dtype=np.int64)
    pool_order = rng.permutation(len(pool))
    pool_yg = pool["yg"][pool_order]
    for g in np.unique(s_yg[is_entry]):
        want = np.flatnonzero(is_entry & (s_yg == g))
        have_g = pool_order[pool_yg == g]
        k = min(want.size, have_g.size)
        from_pool[want[:k]] = True
        pool_pick[want[:k]] = have_g[:k]
    movers = pool.take(pool_pick[from_pool])
    movers.cols["school"] = s_school[from_pool]

    fresh_school, fresh_yg = s_school[~from_pool], s_yg[~from_pool]
    mid_year = (~is_entry[~from_pool]) & (rng.random(fresh_school.size) < MID_YEAR_JOIN_SHARE)
    join = np.where(mid_year, rng.uniform(0.1, 0.9, fresh_school.size), 1.0)
    codes = alloc.issue(fresh_school, np.full(fresh_school.size, next_start % 100))
    fresh = new_pupils(rng, fresh_school, fresh_yg, codes, join)
    merged = Roll.concat([stay, movers, fresh])
    order = np.lexsort((merged["upn"], merged["yg"], merged["school"]))
    return merged.take(order)
