"""Reference tables from seeds/: the mainstream school register with per-school calibration
targets, partnership groups, spend categories and the question bank.

Calibration targets come from the real DfE school-level files in seeds/calibration. Where a
school has no figure (new schools, suppressed small numbers) it takes the median of schools
of the same phase in the same LA, then of the same phase nationally, then of all schools.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds"

# Clip calibration inputs to ranges a mainstream school can plausibly have: a handful of
# register rows carry special-unit or tiny-school values (e.g. 100% EHC plans) that would
# otherwise dominate a synthetic school.
_CLIPS: dict[str, tuple[float, float]] = {
    "p_sen_support": (0.0, 0.6),
    "p_ehc": (0.0, 0.3),
    "absence": (0.01, 0.4),
    "persistent_absence": (0.0, 0.9),
    "suspended_rate": (0.0, 0.4),
    "suspensions_per_suspended": (1.0, 8.0),
    "exclusion_rate": (0.0, 0.02),
}


@dataclass(frozen=True)
class Reference:
    """Everything the generator reads from seeds/, already typed."""

    schools: pl.DataFrame  # mainstream schools, sorted by (la_code, urn), calibration filled
    register_urns: frozenset[int]  # every URN in the register (for "not in register" faults)
    groups: pl.DataFrame  # group_id, group_name, la_code
    membership: pl.DataFrame  # urn, group_id, from_year, to_year
    questions: pl.DataFrame  # question_code, respondent_type, domain, reverse_scored
    categories: pl.DataFrame  # code, layer

    def la_codes(self) -> list[str]:
        return sorted(self.schools["la_code"].unique().to_list())

    def la_schools(self, la_code: str) -> pl.DataFrame:
        return self.schools.filter(pl.col("la_code") == la_code)

    def group_of(self, urns: list[int], year_label: str) -> list[str | None]:
        """Each school's partnership group in force in the academic year (None if none)."""
        current = self.membership.filter(
            (pl.col("from_year") <= year_label)
            & (pl.col("to_year").is_null() | (pl.col("to_year") >= year_label))
        )
        lookup = dict(zip(current["urn"].to_list(), current["group_id"].to_list(), strict=True))
        return [lookup.get(u) for u in urns]


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema_length=0)  # all text: we cast deliberately


def _num(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Float64, strict=False)


def _calibration(seeds: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    cal = seeds / "calibration"
    sen = _read(cal / "school_sen_2018-19.csv").select(
        pl.col("urn").cast(pl.Int64),
        (_num("sen_support_percent") / 100).alias("p_sen_support"),
        (_num("ehc_plan_percent") / 100).alias("p_ehc"),
    )
    absence = _read(cal / "school_absence_2018-19.csv").select(
        pl.col("urn").cast(pl.Int64),
        (_num("overall_absence_percent") / 100).alias("absence"),
        (_num("persistent_absence_percent") / 100).alias("persistent_absence"),
    )
    head = _num("headcount")
    excl = (
        _read(cal / "school_exclusions_2016-17.csv")
        .select(
            pl.col("laestab").cast(pl.Int64),
            pl.when(head > 0).then(_num("pupils_suspended") / head).alias("suspended_rate"),
            pl.when(_num("pupils_suspended") > 0)
            .then(_num("suspensions") / _num("pupils_suspended"))
            .alias("suspensions_per_suspended"),
            pl.when(head > 0).then(_num("permanent_exclusions") / head).alias("exclusion_rate"),
        )
        .unique("laestab", keep="first", maintain_order=True)
    )
    return sen, absence, excl


def _fill(frame: pl.DataFrame, col: str) -> pl.Expr:
    """Fallback chain for a missing calibration figure (see the module docstring)."""
    return (
        pl.col(col)
        .fill_null(pl.col(col).median().over("la_code", "phase"))
        .fill_null(pl.col(col).median().over("phase"))
        .fill_null(frame[col].median())
        .clip(*_CLIPS[col])
    )


@cache
def load_reference(seeds: Path = SEEDS_DIR) -> Reference:
    """Read and type the seeds once per process (they are ~3 MB and never change mid-run)."""
    register = _read(seeds / "schools.csv")
    sen, absence, excl = _calibration(seeds)
    schools = (
        register.filter(pl.col("is_mainstream").str.to_lowercase() == "true")
        .select(
            pl.col("urn").cast(pl.Int64),
            pl.col("laestab").cast(pl.Int64),
            "la_code",
            "la_name",
            "school_name",
            "phase",
            "establishment_type",
            pl.col("headcount_pupils").cast(pl.Int64).fill_null(0).alias("headcount"),
        )
        .join(sen, on="urn", how="left")
        .join(absence, on="urn", how="left")
        .join(excl, on="laestab", how="left")
    )
    schools = schools.with_columns(
        [_fill(schools, c) for c in _CLIPS]
    ).sort("la_code", "urn")
    qb = _read(seeds / "question_bank.csv").select(
        "question_code",
        "respondent_type",
        "domain",
        (pl.col("reverse_scored").str.to_lowercase() == "true").alias("reverse_scored"),
    )
    membership = _read(seeds / "group_membership.csv").select(
        pl.col("urn").cast(pl.Int64), "group_id", "from_year", pl.col("to_year").replace("", None)
    )
    return Reference(
        schools=schools,
        register_urns=frozenset(register["urn"].cast(pl.Int64).to_list()),
        groups=_read(seeds / "partnership_groups.csv").select("group_id", "group_name", "la_code"),
        membership=membership,
        questions=qb,
        categories=_read(seeds / "spend_categories.csv").select("code", "layer"),
    )
