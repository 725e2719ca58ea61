"""voice — one row per respondent per question (data contract, binding).

A respondent id must be anonymous: one that is a valid UPN is a privacy breach at source,
so the row is quarantined and the id pseudonymised wherever it is recorded.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandera.polars as pa
import polars as pl

from pipelines.ingest.contract_support import (
    SEN_PROVISION,
    YEAR_GROUPS,
    ReferenceBoundModel,
    in_range,
    one_of,
    required,
    rule,
    year_end,
    year_start,
)
from pipelines.ingest.spec import Column, Kind, SourceSpec
from pipelines.ingest.upn import valid_upns

RESPONDENT_TYPES = ["pupil", "parent_carer"]
MAX_RESPONDENT_ID = 64


class VoiceContract(ReferenceBoundModel):
    urn: int = pa.Field(nullable=True)
    academic_year: str = pa.Field(nullable=True)
    respondent_id: str = pa.Field(nullable=True)
    respondent_type: str = pa.Field(nullable=True)
    sen_provision: str = pa.Field(nullable=True)
    year_group: str = pa.Field(nullable=True)
    question_code: str = pa.Field(nullable=True)
    response: int = pa.Field(nullable=True)
    collected_on: date = pa.Field(nullable=True)

    _required = required(
        "urn", "academic_year", "respondent_id", "respondent_type", "sen_provision",
        "year_group", "question_code", "collected_on",
    )
    _respondent_type = one_of("respondent_type", "respondent_type_code", RESPONDENT_TYPES)
    _sen_provision = one_of("sen_provision", "sen_provision_code", SEN_PROVISION)
    _year_group = one_of("year_group", "year_group_code", YEAR_GROUPS)
    _response = in_range("response", "response_range", 1, 5)

    @rule("respondent_id_length", "respondent_id")
    def _id_length(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("respondent_id").str.len_chars().is_between(1, MAX_RESPONDENT_ID)
        )

    @rule("respondent_id_is_upn", "respondent_id")
    def _id_not_upn(cls, data: Any) -> pl.LazyFrame:
        return valid_upns(data.lazyframe, "respondent_id").select(pl.col("respondent_id").not_())

    @rule("question_code_unknown", "question_code")
    def _question_known(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("question_code").is_in(list(cls._reference.question_codes))
        )

    @rule("question_wrong_respondent_type", "question_code")
    def _question_for_type(cls, data: Any) -> pl.LazyFrame:
        code, kind = pl.col("question_code"), pl.col("respondent_type")
        judged = code.is_in(list(cls._reference.question_codes)) & kind.is_in(RESPONDENT_TYPES)
        pair = pl.concat_str([kind, pl.lit("|"), code])
        return data.lazyframe.select(
            pl.when(judged).then(pair.is_in(list(cls._reference.questions_by_type)))
        )

    @rule("collected_on_outside_year", "collected_on")
    def _collected_in_year(cls, data: Any) -> pl.LazyFrame:
        year = pl.col("academic_year")
        return data.lazyframe.select(
            pl.col("collected_on").is_between(year_start(year), year_end(year))
        )

    @rule("collected_on_in_future", "collected_on")
    def _collected_not_future(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("collected_on") <= pl.lit(cls._reference.today))


SPEC = SourceSpec(
    name="voice",
    columns=(
        Column("urn", Kind.INTEGER, sql_type="BIGINT"),
        Column("academic_year", Kind.TEXT),
        Column("respondent_id", Kind.TEXT),
        Column("respondent_type", Kind.TEXT),
        Column("sen_provision", Kind.TEXT),
        Column("year_group", Kind.TEXT),
        Column("question_code", Kind.TEXT),
        Column("response", Kind.INTEGER, required=False, sql_type="SMALLINT"),
        Column("collected_on", Kind.DATE),
    ),
    unit_keys=("urn", "academic_year"),
    contract=VoiceContract,
)
