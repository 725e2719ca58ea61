"""Build seeds/ from the published DfE/GIAS files (developer tool, run once per refresh).

The pipeline never reads the source folder at run or test time: this script copies what
the product needs into seeds/, reduced to the columns it uses, with the OGL attribution.

    uv run python scripts/build_seeds.py ../shared/data
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from pipelines.reference.groups import default_groups
from pipelines.reference.register import MAINSTREAM_PHASES

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def main(src: Path) -> None:
    schools = pl.read_csv(src / "schools_england_2022-23.csv", infer_schema=False)
    register = schools.select(
        pl.col("urn").cast(pl.Int64),
        pl.col("laestab").cast(pl.Int64),
        pl.col("old_la_code").alias("la_code"),
        "new_la_code",
        "la_name",
        "region_code",
        "region_name",
        "school_name",
        pl.col("phase_type_grouping").alias("phase"),
        pl.col("typeofestablishment_name").alias("establishment_type"),
        pl.col("phase_type_grouping").is_in(MAINSTREAM_PHASES).alias("is_mainstream"),
        "trust",
        pl.col("district_administrative_code").alias("district_code"),
        "ward_code",
        pl.col("headcount_pupils").cast(pl.Float64, strict=False).round(0).cast(pl.Int64)
        .alias("headcount_pupils"),
    ).sort("urn")
    register.write_csv(SEEDS / "schools.csv")

    links = pl.read_csv(
        src / "gias_links_2025-04-22.csv", infer_schema=False, encoding="windows-1252"
    ).select(
        pl.col("URN").cast(pl.Int64).alias("urn"),
        pl.col("LinkURN").cast(pl.Int64).alias("link_urn"),
        pl.col("LinkName").alias("link_name"),
        pl.col("LinkType").alias("link_type"),
        pl.col("LinkEstablishedDate").str.to_date("%d-%m-%Y", strict=False)
        .alias("link_established_on"),
    )
    links.write_csv(SEEDS / "gias_links.csv")

    groups, membership = default_groups(register)
    groups.write_csv(SEEDS / "partnership_groups.csv")
    membership.write_csv(SEEDS / "group_membership.csv")

    cal = SEEDS / "calibration"
    pl.read_csv(src / "school_census_sen_2018-19.csv", infer_schema=False).filter(
        pl.col("URN").str.contains(r"^\d+$")
    ).select(
        pl.col("URN").cast(pl.Int64).alias("urn"),
        pl.col("NOR").cast(pl.Int64, strict=False).alias("pupils_on_roll"),
        pl.col("PSENELSE").cast(pl.Float64, strict=False).alias("ehc_plan_percent"),
        pl.col("PSENELK").cast(pl.Float64, strict=False).alias("sen_support_percent"),
    ).write_csv(cal / "school_sen_2018-19.csv")
    pl.read_csv(src / "school_absence_perftables_2018-19.csv", infer_schema=False).filter(
        pl.col("URN").str.contains(r"^\d+$")
    ).select(
        pl.col("URN").cast(pl.Int64).alias("urn"),
        pl.col("PERCTOT").cast(pl.Float64, strict=False).alias("overall_absence_percent"),
        pl.col("PPERSABS10").cast(pl.Float64, strict=False).alias("persistent_absence_percent"),
    ).write_csv(cal / "school_absence_2018-19.csv")
    pl.read_csv(src / "school_exclusions_2016-17.csv", infer_schema=False).select(
        pl.col("laestab").cast(pl.Int64),
        pl.col("headcount").cast(pl.Int64, strict=False),
        pl.col("perm_excl").cast(pl.Int64, strict=False).alias("permanent_exclusions"),
        pl.col("fixed_excl").cast(pl.Int64, strict=False).alias("suspensions"),
        pl.col("one_plus_fixed").cast(pl.Int64, strict=False).alias("pupils_suspended"),
    ).write_csv(cal / "school_exclusions_2016-17.csv")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
