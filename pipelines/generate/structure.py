"""Which year groups each school teaches and how many pupils it has in each.

The register gives phase, establishment type, name and headcount, not age range, so the
range is inferred the way a reader of the register would: infant, junior, first and middle
schools by name; 16-19 schools, UTCs and studio schools by type; a seeded share of primaries
with a nursery class and of secondaries with a sixth form. Headcount is then shared over the
year groups with weights (nursery and sixth-form year groups are smaller than the others).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from pipelines.generate.academic import N_YG, yg

NURSERY_CLASS_SHARE = 0.35  # primaries with a nursery class
SIXTH_FORM_SHARE = 0.6  # 11-16 vs 11-18 secondaries
SIXTH_FORM_STAY = 0.55  # year 11 pupils who stay on into the school's own sixth form

_WEIGHT = np.ones(N_YG)
_WEIGHT[yg("N1")] = 0.25
_WEIGHT[yg("N2")] = 0.8
_WEIGHT[yg("12")] = 0.5
_WEIGHT[yg("13")] = 0.45
_WEIGHT[yg("14")] = 0.0


def _span(first: str, last: str) -> list[int]:
    return list(range(yg(first), yg(last) + 1))


@dataclass(frozen=True)
class Structure:
    """Per-LA arrays, one row per school (same order as the LA's school frame)."""

    urn: NDArray[np.int64]
    estab: NDArray[np.int64]  # the 4-digit DfE establishment number
    phase: NDArray[np.int8]  # 0 nursery, 1 primary, 2 secondary
    target: NDArray[np.int64]  # (schools, year groups) pupils on roll in a typical year
    entry: NDArray[np.int64]  # lowest year group taught (-1 when the school has no pupils)
    final: NDArray[np.int64]  # highest year group taught
    sixth_form: NDArray[np.bool_]  # year 11 pupils may stay on into year 12

    @property
    def n(self) -> int:
        return int(self.urn.size)


def _range(phase: str, etype: str, name: str, rng: np.random.Generator) -> list[int]:
    lname = name.lower()
    if phase == "State-funded nursery":
        return _span("N1", "N2")
    if phase == "State-funded primary":
        nursery = _span("N1", "N2") if rng.random() < NURSERY_CLASS_SHARE else []
        if "middle" in lname:
            return _span("5", "8")
        if "infant" in lname and "junior" not in lname:
            return nursery + _span("R", "2")
        if "junior" in lname and "infant" not in lname:
            return _span("3", "6")
        if "first" in lname:
            return nursery + _span("R", "4")
        return nursery + _span("R", "6")
    if "16" in etype and "19" in etype:
        return _span("12", "13")
    if etype in ("University technical college", "Studio schools"):
        return _span("10", "13")
    if "middle" in lname:
        return _span("5", "8")
    sixth = "sixth form" in lname or rng.random() < SIXTH_FORM_SHARE
    return _span("7", "13") if sixth else _span("7", "11")


def build(schools: pl.DataFrame, rng: np.random.Generator) -> Structure:
    """Structure for one LA's schools (rows in the frame's order)."""
    n = schools.height
    target = np.zeros((n, N_YG), dtype=np.int64)
    entry = np.full(n, -1, dtype=np.int64)
    final = np.full(n, -1, dtype=np.int64)
    sixth = np.zeros(n, dtype=np.bool_)
    phases = {"State-funded nursery": 0, "State-funded primary": 1, "State-funded secondary": 2}
    rows = schools.select("phase", "establishment_type", "school_name", "headcount").iter_rows()
    for i, (phase, etype, name, headcount) in enumerate(rows):
        span = _range(phase, etype, name, rng)
        weights = _WEIGHT[span] / _WEIGHT[span].sum()
        # Largest-remainder rounding keeps the school's total equal to the real headcount.
        raw = weights * headcount
        counts = np.floor(raw).astype(np.int64)
        short = int(headcount - counts.sum())
        if short > 0:
            counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
        target[i, span] = counts
        if headcount > 0:
            entry[i], final[i] = span[0], span[-1]
            sixth[i] = yg("11") in span and yg("12") in span
    return Structure(
        urn=schools["urn"].to_numpy().astype(np.int64),
        estab=(schools["laestab"].to_numpy() % 10_000).astype(np.int64),
        phase=np.array([phases[p] for p in schools["phase"]], dtype=np.int8),
        target=target,
        entry=entry,
        final=final,
        sixth_form=sixth,
    )

