"""Typed polars frames in the contract's column order, and their text form for a file.

Each file picks one of the boolean and date spellings the contract accepts (as different
MIS exports do), so readers are exercised on all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from numpy.typing import NDArray

from pipelines.generate import upn
from pipelines.generate.academic import YEAR_GROUPS
from pipelines.generate.outcomes import DESTINATIONS, NEEDS, REASONS, Outcomes
from pipelines.generate.population import Roll
from pipelines.generate.structure import Structure

OUTCOME_COLUMNS = (
    "urn", "academic_year", "upn", "year_group", "sen_provision", "primary_need",
    "first_identified_year_group", "sessions_possible", "sessions_attended", "base_sessions",
    "suspensions", "permanently_excluded", "plan_targets_set", "plan_targets_met",
    "plan_reviewed_on", "left_roll", "leaving_reason", "destination", "destination_sustained",
    "met_expected_standard",
)
BOOL_STYLES: tuple[tuple[str, str], ...] = (("Y", "N"), ("Yes", "No"), ("true", "false"),
                                            ("1", "0"))
DATE_STYLES = ("%Y-%m-%d", "%d/%m/%Y")


def _coded(index: NDArray[np.int64], codes: Sequence[str]) -> pl.Series:
    """Codes by index, null where the index is -1."""
    lookup = pl.Series([*codes, None], dtype=pl.String)
    return lookup.gather(np.where(index < 0, len(codes), index))


def _int(values: NDArray[np.int64]) -> pl.Series:
    s = pl.Series(values, dtype=pl.Int64)
    return s.set(s < 0, None) if (values < 0).any() else s


def _bool(values: NDArray[np.int64] | NDArray[np.bool_]) -> pl.Series:
    v = np.asarray(values, dtype=np.int64)
    s = pl.Series(v == 1, dtype=pl.Boolean)
    return s.set(pl.Series(v < 0), None) if (v < 0).any() else s


def outcome_frame(roll: Roll, out: Outcomes, structure: Structure, year_label: str
                  ) -> pl.DataFrame:
    n = len(roll)
    reviewed = pl.Series(np.maximum(out.reviewed_on, 0), dtype=pl.Int32).cast(pl.Date)
    reviewed = reviewed.set(pl.Series(out.reviewed_on < 0), None)
    frame = pl.DataFrame({
        "urn": structure.urn[roll["school"]],
        "academic_year": pl.repeat(year_label, n, eager=True),
        "upn": upn.to_strings(roll["upn"]),
        "year_group": _coded(roll["yg"], YEAR_GROUPS),
        "sen_provision": _coded(out.sen, ("N", "K", "E")),
        "primary_need": _coded(out.need, NEEDS),
        "first_identified_year_group": _coded(out.first_id, YEAR_GROUPS),
        "sessions_possible": _int(out.possible),
        "sessions_attended": _int(out.attended),
        "base_sessions": _int(out.base),
        "suspensions": _int(out.suspensions),
        "permanently_excluded": _bool(out.excluded),
        "plan_targets_set": _int(out.targets_set),
        "plan_targets_met": _int(out.targets_met),
        "plan_reviewed_on": reviewed,
        "left_roll": _bool(out.left),
        "leaving_reason": _coded(out.reason, REASONS),
        "destination": _coded(out.destination, DESTINATIONS),
        "destination_sustained": _bool(out.sustained),
        "met_expected_standard": _bool(out.met_expected),
    })
    return frame.select(OUTCOME_COLUMNS)


def as_text(frame: pl.DataFrame, bool_style: tuple[str, str], date_style: str
            ) -> pl.DataFrame:
    """Every column as the text that goes in the file (null stays null = empty cell)."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.Boolean:
            exprs.append(pl.when(col).then(pl.lit(bool_style[0]))
                         .when(~col).then(pl.lit(bool_style[1])).alias(name))
        elif dtype == pl.Date:
            exprs.append(col.dt.strftime(date_style).alias(name))
        else:
            exprs.append(col.cast(pl.String).alias(name))
    return frame.select(exprs)
