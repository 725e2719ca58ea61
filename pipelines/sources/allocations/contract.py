"""allocations — one row per school per year (data contract, binding).

Allocations are money like spend, so they are read the same way (`£`, thousands commas)
and, to be stored exactly as DECIMAL(12,2), may have at most 2 decimal places
(`amount_decimals`).
"""

from __future__ import annotations

import pandera.polars as pa

from pipelines.ingest.contract_support import ReferenceBoundModel, in_range, required
from pipelines.ingest.spec import Column, Kind, SourceSpec

MAX_ALLOCATION = 5_000_000


class AllocationsContract(ReferenceBoundModel):
    urn: int = pa.Field(nullable=True)
    academic_year: str = pa.Field(nullable=True)
    allocation_gbp: float = pa.Field(nullable=True)

    _required = required("urn", "academic_year", "allocation_gbp")
    _allocation = in_range("allocation_gbp", "allocation_range", 0, MAX_ALLOCATION)


SPEC = SourceSpec(
    name="allocations",
    columns=(
        Column("urn", Kind.INTEGER, sql_type="BIGINT"),
        Column("academic_year", Kind.TEXT),
        Column("allocation_gbp", Kind.MONEY),
    ),
    unit_keys=("urn", "academic_year"),
    contract=AllocationsContract,
)
