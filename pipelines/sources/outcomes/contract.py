"""outcomes — one row per pupil per school per academic year (data contract, binding).

The UPN is checked here in clear (in memory only) and pseudonymised before any row is
written; the raw table stores `pupil_id`, never the UPN.
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
)
from pipelines.ingest.spec import Column, Kind, SourceSpec
from pipelines.ingest.upn import valid_upns

PRIMARY_NEEDS = ["SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD",
                 "OTH", "NSA"]
LEAVING_REASONS = ["transfer", "moved_away", "elective_home_education", "alternative_provision",
                   "end_of_phase", "other", "unknown"]
DESTINATIONS = ["education", "apprenticeship", "employment", "training", "neet", "unknown"]
YEAR_11_OR_ABOVE = ["11", "12", "13", "14"]
MAX_SESSIONS = 420
MAX_SUSPENSIONS = 50

sen = pl.col("sen_provision")
has_sen = sen.is_in(["K", "E"])


class OutcomesContract(ReferenceBoundModel):
    urn: int = pa.Field(nullable=True)
    academic_year: str = pa.Field(nullable=True)
    upn: str = pa.Field(nullable=True)
    year_group: str = pa.Field(nullable=True)
    sen_provision: str = pa.Field(nullable=True)
    primary_need: str = pa.Field(nullable=True)
    first_identified_year_group: str = pa.Field(nullable=True)
    sessions_possible: int = pa.Field(nullable=True)
    sessions_attended: int = pa.Field(nullable=True)
    base_sessions: int = pa.Field(nullable=True)
    suspensions: int = pa.Field(nullable=True)
    permanently_excluded: bool = pa.Field(nullable=True)
    plan_targets_set: int = pa.Field(nullable=True)
    plan_targets_met: int = pa.Field(nullable=True)
    plan_reviewed_on: date = pa.Field(nullable=True)
    left_roll: bool = pa.Field(nullable=True)
    leaving_reason: str = pa.Field(nullable=True)
    destination: str = pa.Field(nullable=True)
    destination_sustained: bool = pa.Field(nullable=True)
    met_expected_standard: bool = pa.Field(nullable=True)

    _required = required(
        "urn", "academic_year", "upn", "year_group", "sen_provision", "sessions_possible",
        "sessions_attended", "base_sessions", "suspensions", "permanently_excluded", "left_roll",
    )
    _year_group = one_of("year_group", "year_group_code", YEAR_GROUPS)
    _first_identified_code = one_of("first_identified_year_group", "year_group_code", YEAR_GROUPS)
    _sen_provision = one_of("sen_provision", "sen_provision_code", SEN_PROVISION)
    _primary_need = one_of("primary_need", "primary_need_code", PRIMARY_NEEDS)
    _leaving_reason = one_of("leaving_reason", "leaving_reason_code", LEAVING_REASONS)
    _destination = one_of("destination", "destination_code", DESTINATIONS)
    _sessions_possible = in_range("sessions_possible", "sessions_possible_range", 0, MAX_SESSIONS)
    _sessions_attended = in_range("sessions_attended", "sessions_attended_range", 0)
    _base_sessions = in_range("base_sessions", "base_sessions_range", 0)
    _suspensions = in_range("suspensions", "suspensions_range", 0, MAX_SUSPENSIONS)
    _targets_set = in_range("plan_targets_set", "plan_targets_range", 0)
    _targets_met = in_range("plan_targets_met", "plan_targets_range", 0)

    @rule("upn_check_letter", "upn")
    def _upn(cls, data: Any) -> pl.LazyFrame:
        return valid_upns(data.lazyframe, "upn")

    @rule("primary_need_required", "primary_need")
    def _need_required(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select((has_sen & pl.col("primary_need").is_null()).not_())

    @rule("primary_need_not_allowed", "primary_need")
    def _need_not_allowed(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(((sen == "N") & pl.col("primary_need").is_not_null()).not_())

    @rule("first_identified_required", "first_identified_year_group")
    def _first_required(cls, data: Any) -> pl.LazyFrame:
        first = pl.col("first_identified_year_group")
        return data.lazyframe.select((has_sen & first.is_null()).not_())

    @rule("first_identified_not_allowed", "first_identified_year_group")
    def _first_not_allowed(cls, data: Any) -> pl.LazyFrame:
        first = pl.col("first_identified_year_group")
        return data.lazyframe.select(((sen == "N") & first.is_not_null()).not_())

    @rule("attended_exceeds_possible", "sessions_attended")
    def _attended(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("sessions_attended") <= pl.col("sessions_possible"))

    @rule("base_exceeds_attended", "base_sessions")
    def _base(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("base_sessions") <= pl.col("sessions_attended"))

    @rule("plan_targets_not_allowed", "plan_targets_set")
    def _targets_for_sen_only(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(
            ((sen == "N") & pl.col("plan_targets_set").is_not_null()).not_()
        )

    @rule("plan_targets_met_exceeds_set", "plan_targets_met")
    def _met_within_set(cls, data: Any) -> pl.LazyFrame:
        met, targets = pl.col("plan_targets_met"), pl.col("plan_targets_set")
        return data.lazyframe.select(
            pl.when(met.is_null()).then(True).when(targets.is_null()).then(False)
            .otherwise(met <= targets)
        )

    @rule("plan_reviewed_after_year", "plan_reviewed_on")
    def _reviewed_in_year(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("plan_reviewed_on") <= year_end(pl.col("academic_year"))
        )

    @rule("plan_reviewed_in_future", "plan_reviewed_on")
    def _reviewed_not_future(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("plan_reviewed_on") <= pl.lit(cls._reference.today))

    @rule("leaving_reason_required", "leaving_reason")
    def _reason_required(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("left_roll") & pl.col("leaving_reason").is_null()).not_()
        )

    @rule("leaving_reason_not_allowed", "leaving_reason")
    def _reason_not_allowed(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("left_roll").not_() & pl.col("leaving_reason").is_not_null()).not_()
        )

    @rule("destination_not_allowed", "destination")
    def _destination_for_leavers(cls, data: Any) -> pl.LazyFrame:
        end_of_phase = (pl.col("leaving_reason") == "end_of_phase").fill_null(False)
        year_11_plus = pl.col("year_group").is_in(YEAR_11_OR_ABOVE).fill_null(False)
        return data.lazyframe.select(
            pl.when(pl.col("destination").is_null()).then(True)
            .otherwise(end_of_phase & year_11_plus)
        )

    @rule("destination_sustained_without_destination", "destination_sustained")
    def _sustained_needs_destination(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("destination_sustained").is_not_null() & pl.col("destination").is_null())
            .not_()
        )


SPEC = SourceSpec(
    name="outcomes",
    columns=(
        Column("urn", Kind.INTEGER, sql_type="BIGINT"),
        Column("academic_year", Kind.TEXT),
        Column("upn", Kind.UPN, stored_as="pupil_id"),
        Column("year_group", Kind.TEXT),
        Column("sen_provision", Kind.TEXT),
        Column("primary_need", Kind.TEXT, required=False),
        Column("first_identified_year_group", Kind.TEXT, required=False),
        Column("sessions_possible", Kind.INTEGER),
        Column("sessions_attended", Kind.INTEGER),
        Column("base_sessions", Kind.INTEGER),
        Column("suspensions", Kind.INTEGER),
        Column("permanently_excluded", Kind.BOOLEAN),
        Column("plan_targets_set", Kind.INTEGER, required=False),
        Column("plan_targets_met", Kind.INTEGER, required=False),
        Column("plan_reviewed_on", Kind.DATE, required=False),
        Column("left_roll", Kind.BOOLEAN),
        Column("leaving_reason", Kind.TEXT, required=False),
        Column("destination", Kind.TEXT, required=False),
        Column("destination_sustained", Kind.BOOLEAN, required=False),
        Column("met_expected_standard", Kind.BOOLEAN, required=False),
    ),
    unit_keys=("urn", "academic_year"),
    contract=OutcomesContract,
    duplicate_key=("urn", "academic_year", "upn"),
    duplicate_rule="duplicate_pupil",
    duplicate_column="upn",
)
