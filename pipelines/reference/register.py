"""The school register: which URNs exist, their local authority, phase and district.

`import_gias_extract` refreshes seeds/schools.csv from a GIAS `edubasealldata*.csv` extract.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl

from pipelines.settings import SEEDS_DIR

MAINSTREAM_PHASES = ["State-funded primary", "State-funded secondary", "State-funded nursery"]

REGISTER_COLUMNS = [
    "urn", "laestab", "la_code", "new_la_code", "la_name", "region_code", "region_name",
    "school_name", "phase", "establishment_type", "is_mainstream", "trust", "district_code",
    "ward_code", "headcount_pupils",
]
OPEN_STATUSES = ["Open", "Open, but proposed to close"]

# GIAS `TypeOfEstablishment (name)` -> the census phase type the register uses, for types
# whose phase does not depend on `PhaseOfEducation (name)`.
_FIXED_PHASE = {
    "Other independent school": "Independent school",
    "Other independent special school": "Independent school",
    "Non-maintained special school": "Non-maintained special school",
    "Community special school": "State-funded special school",
    "Foundation special school": "State-funded special school",
    "Academy special converter": "State-funded special school",
    "Academy special sponsor led": "State-funded special school",
    "Free schools special": "State-funded special school",
    "Pupil referral unit": "State-funded AP school",
    "Academy alternative provision converter": "State-funded AP school",
    "Academy alternative provision sponsor led": "State-funded AP school",
    "Free schools alternative provision": "State-funded AP school",
    "Local authority nursery school": "State-funded nursery",
}
# State-funded mainstream types: the phase comes from `PhaseOfEducation (name)`.
_MAINSTREAM_TYPES = [
    "Community school", "Voluntary aided school", "Voluntary controlled school",
    "Foundation school", "Academy converter", "Academy sponsor led", "Free schools",
    "City technology college", "Studio schools", "University technical college",
    "Free schools 16 to 19", "Academy 16 to 19 sponsor led", "Academy 16-19 converter",
]
_PHASE_OF_EDUCATION = {
    "Nursery": "State-funded nursery",
    "Primary": "State-funded primary",
    "Middle deemed primary": "State-funded primary",
    "Secondary": "State-funded secondary",
    "Middle deemed secondary": "State-funded secondary",
    "All-through": "State-funded secondary",
    "16 plus": "State-funded secondary",
}


def _census_phase() -> pl.Expr:
    kind = pl.col("TypeOfEstablishment (name)")
    phase = pl.col("PhaseOfEducation (name)")
    return (
        pl.when(kind.is_in(list(_FIXED_PHASE)))
        .then(kind.replace_strict(_FIXED_PHASE, default=None))
        .when(kind.is_in(_MAINSTREAM_TYPES))
        .then(phase.replace_strict(_PHASE_OF_EDUCATION, default=None))
    )


def _blank_to_null(name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars()
    return pl.when(text != "").then(text)


def read_gias_extract(path: Path, previous: pl.DataFrame | None = None) -> pl.DataFrame:
    """A GIAS `edubasealldata*.csv` extract as the register's columns (open schools only).

    GIAS ships Windows-1252. GIAS has no ONS LA or region codes, so `new_la_code` and
    `region_code` are carried over from the previous register by LA and region name;
    establishments of types the register does not hold (further education, Welsh, overseas,
    ...) are left out.
    """
    text = path.read_bytes().decode("cp1252")
    gias = pl.read_csv(text.encode(), infer_schema=False)
    register = (
        gias.filter(pl.col("EstablishmentStatus (name)").is_in(OPEN_STATUSES))
        .with_columns(phase=_census_phase())
        .filter(pl.col("phase").is_not_null())
        .select(
            urn=pl.col("URN").cast(pl.Int64),
            laestab=(pl.col("LA (code)").cast(pl.Int64) * 10_000
                     + pl.col("EstablishmentNumber").cast(pl.Int64, strict=False)),
            la_code=pl.col("LA (code)").str.zfill(3),
            la_name=_blank_to_null("LA (name)"),
            region_name=_blank_to_null("GOR (name)"),
            school_name=_blank_to_null("EstablishmentName"),
            phase=pl.col("phase"),
            establishment_type=_blank_to_null("TypeOfEstablishment (name)"),
            is_mainstream=pl.col("phase").is_in(MAINSTREAM_PHASES),
            trust=_blank_to_null("Trusts (name)"),
            district_code=_blank_to_null("DistrictAdministrative (code)"),
            ward_code=_blank_to_null("AdministrativeWard (code)"),
            headcount_pupils=pl.col("NumberOfPupils").cast(pl.Int64, strict=False),
        )
    )
    if previous is None:
        previous = pl.DataFrame(schema={c: pl.String for c in
                                        ["la_code", "new_la_code", "region_name", "region_code"]})
    la_codes = previous.select(pl.col("la_code").cast(pl.String), "new_la_code").unique("la_code")
    regions = previous.select("region_name", "region_code").unique("region_name")
    return (
        register.join(la_codes, on="la_code", how="left")
        .join(regions, on="region_name", how="left")
        .select(REGISTER_COLUMNS)
        .sort("urn")
    )


def import_gias_extract(path: Path, out: Path = SEEDS_DIR / "schools.csv") -> int:
    """Refresh the register CSV from a GIAS extract; returns the number of schools written.

    The file is replaced atomically, so a failed import leaves the old register in place.
    """
    previous = (
        pl.read_csv(out, infer_schema=False) if out.exists() else None
    )
    register = read_gias_extract(path, previous)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=".schools-", suffix=".csv")
    os.close(handle)
    try:
        register.write_csv(temporary)
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return register.height
