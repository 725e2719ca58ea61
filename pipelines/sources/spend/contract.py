"""spend — one row per line of Inclusive Mainstream Fund spend (data contract, binding)."""

from __future__ import annotations

from typing import Any

import pandera.polars as pa
import polars as pl

from pipelines.ingest.contract_support import (
    ReferenceBoundModel,
    in_range,
    one_of,
    required,
    rule,
)
from pipelines.ingest.spec import Column, Kind, SourceSpec

TERMS = ["autumn", "spring", "summer"]
MAX_AMOUNT = 1_000_000
MAX_DESCRIPTION = 500


class SpendContract(ReferenceBoundModel):
    urn: int = pa.Field(nullable=True)
    academic_year: str = pa.Field(nullable=True)
    term: str = pa.Field(nullable=True)
    category: str = pa.Field(nullable=True)
    amount_gbp: float = pa.Field(nullable=True)
    description: str = pa.Field(nullable=True)

    _required = required("urn", "academic_year", "term", "category", "amount_gbp")
    _term = one_of("term", "term_code", TERMS)
    _amount = in_range("amount_gbp", "amount_range", 0, MAX_AMOUNT)

    @rule("category_code", "category")
    def _category(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("category").is_in(list(cls._reference.spend_categories))
        )

    @rule("description_length", "description")
    def _description_length(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("description").str.len_chars() <= MAX_DESCRIPTION)

    @rule("other_without_description", "description", ignore_na=False)
    def _other_described(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("category") != "other").fill_null(True) | pl.col("description").is_not_null()
        )


SPEC = SourceSpec(
    name="spend",
    columns=(
        Column("urn", Kind.INTEGER, sql_type="BIGINT"),
        Column("academic_year", Kind.TEXT),
        Column("term", Kind.TEXT),
        Column("category", Kind.TEXT),
        Column("amount_gbp", Kind.MONEY),
        Column("description", Kind.TEXT, required=False, free_text=True),
    ),
    unit_keys=("urn", "academic_year", "term"),
    contract=SpendContract,
)
