"""Row-level bad input: each kind breaks exactly one rule of the data contract in a row that
was otherwise valid, so a test (or the ingest) can check the row fails for the stated reason.

Faults are applied to a file's text frame (every column text, as it will be written).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from pipelines.generate import upn
from pipelines.generate.academic import last_day
from pipelines.generate.frames import BOOL_STYLES

NUMBER_WORDS = ("none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten")
LONG_DESCRIPTION = ("Support for pupils with additional needs across the school, including "
                    "staffing, resources and training. ") * 6  # > 500 characters


@dataclass(frozen=True)
class Context:
    source: str
    start: int  # academic year start
    bool_style: tuple[str, str]
    date_style: str
    unknown_urns: tuple[int, ...]  # six-digit URNs not in the register
    pupil_upns: tuple[str, ...]  # valid UPNs of this LA-year's pupils (for privacy breaches)


Values = list[str | None]
Change = tuple[dict[str, Values], Values]  # new cell values by column; values to record
Corrupt = Callable[[pl.DataFrame, NDArray[np.int64], Context, np.random.Generator], Change]
Eligible = Callable[[pl.DataFrame, Context], pl.Series]


@dataclass(frozen=True)
class RowFault:
    kind: str
    sources: tuple[str, ...]
    column: str
    eligible: Eligible
    corrupt: Corrupt
    record_value: bool = True  # False where the value is a UPN: never written to the manifest


def _col(df: pl.DataFrame, name: str, idx: NDArray[np.int64]) -> list[str | None]:
    return df[name].gather(idx).to_list()


def _const(column: str, value: str | None) -> Corrupt:
    def corrupt(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                rng: np.random.Generator) -> Change:
        return {column: [value] * idx.size}, [value] * idx.size
    return corrupt


def _any(df: pl.DataFrame, ctx: Context) -> pl.Series:
    return pl.Series([True] * df.height)


def _where(expr: pl.Expr) -> Eligible:
    def eligible(df: pl.DataFrame, ctx: Context) -> pl.Series:
        return df.select(expr.fill_null(False).alias("ok"))["ok"]
    return eligible


def _is_true(ctx: Context, name: str) -> pl.Expr:
    return pl.col(name) == ctx.bool_style[0]


def _date_text(day: dt.date, ctx: Context) -> str:
    return day.strftime(ctx.date_style)


def _unknown_urn(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                 rng: np.random.Generator) -> Change:
    values: Values = [str(ctx.unknown_urns[int(i)]) for i in
                      rng.integers(0, len(ctx.unknown_urns), idx.size)]
    return {"urn": values}, values


def _year_format(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                 rng: np.random.Generator) -> Change:
    # hyphenated, non-consecutive, and four-digit second year: all break YYYY/YY
    options = [f"{ctx.start}-{(ctx.start + 1) % 100:02d}",
               f"{ctx.start}/{(ctx.start + 2) % 100:02d}", f"{ctx.start}/{ctx.start + 1}"]
    values: Values = [options[int(i)] for i in rng.integers(0, len(options), idx.size)]
    return {"academic_year": values}, values


def _amount_range(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                  rng: np.random.Generator) -> Change:
    values: Values = [("-250.00", "1500000.00")[int(i)] for i in rng.integers(0, 2, idx.size)]
    return {"amount_gbp": values}, values


def _amount_decimals(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                     rng: np.random.Generator) -> Change:
    values: Values = [f"{v}5" for v in _col(df, "amount_gbp", idx)]
    return {"amount_gbp": values}, values


def _other_blank(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                 rng: np.random.Generator) -> Change:
    return {"category": ["other"] * idx.size, "description": [None] * idx.size}, [None] * idx.size


def _allocation_range(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                      rng: np.random.Generator) -> Change:
    values: Values = [("-1000.00", "5500000.00")[int(i)] for i in rng.integers(0, 2, idx.size)]
    return {"allocation_gbp": values}, values


def _bad_check_letter(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                      rng: np.random.Generator) -> Change:
    values: Values = [upn.wrong_letter(str(v)) for v in _col(df, "upn", idx)]
    return {"upn": values}, [None] * idx.size


def _plus(column: str, source_column: str, delta: int) -> Corrupt:
    def corrupt(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                rng: np.random.Generator) -> Change:
        values: Values = [str(int(str(v)) + delta) for v in _col(df, source_column, idx)]
        return {column: values}, values
    return corrupt


def _reviewed_after(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                    rng: np.random.Generator) -> Change:
    value = _date_text(last_day(ctx.start) + dt.timedelta(days=10), ctx)
    return {"plan_reviewed_on": [value] * idx.size}, [value] * idx.size


def _dotted(column: str) -> Corrupt:
    """A real date, written in a format the contract does not accept (2025.03.14)."""
    def corrupt(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                rng: np.random.Generator) -> Change:
        days = [dt.datetime.strptime(str(v), ctx.date_style).date() for v in _col(df, column, idx)]
        values: Values = [d.strftime("%Y.%m.%d") for d in days]
        return {column: values}, values
    return corrupt


def _words(column: str) -> Corrupt:
    def corrupt(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                rng: np.random.Generator) -> Change:
        values: Values = [NUMBER_WORDS[min(int(str(v)), 10)] for v in _col(df, column, idx)]
        return {column: values}, values
    return corrupt


def _respondent_upn(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                    rng: np.random.Generator) -> Change:
    values: Values = [ctx.pupil_upns[int(i)] for i in
                      rng.integers(0, len(ctx.pupil_upns), idx.size)]
    return {"respondent_id": values}, [None] * idx.size


def _wrong_type_question(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                         rng: np.random.Generator) -> Change:
    values: Values = ["F_CON_1" if t == "pupil" else "P_BEL_1"
                      for t in _col(df, "respondent_type", idx)]
    return {"question_code": values}, values


def _response_range(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                    rng: np.random.Generator) -> Change:
    values: Values = [("0", "6")[int(i)] for i in rng.integers(0, 2, idx.size)]
    return {"response": values}, values


def _collected_outside(df: pl.DataFrame, idx: NDArray[np.int64], ctx: Context,
                       rng: np.random.Generator) -> Change:
    value = _date_text(dt.date(ctx.start, 7, 15), ctx)  # the summer before the year began
    return {"collected_on": [value] * idx.size}, [value] * idx.size


ALL = ("spend", "allocations", "outcomes", "voice")
_KE = pl.col("sen_provision").is_in(["K", "E"])
_N = pl.col("sen_provision") == "N"
_NOT_TRUE = pl.col("permanently_excluded").is_in([f for _, f in BOOL_STYLES])


def _left(ctx: Context) -> pl.Expr:
    return _is_true(ctx, "left_roll")


def _eligible_left(ctx_expr: Callable[[Context], pl.Expr]) -> Eligible:
    def eligible(df: pl.DataFrame, ctx: Context) -> pl.Series:
        return df.select(ctx_expr(ctx).fill_null(False).alias("ok"))["ok"]
    return eligible


FAULTS: tuple[RowFault, ...] = (
    RowFault("urn_not_in_register", ALL, "urn", _any, _unknown_urn),
    RowFault("academic_year_format", ALL, "academic_year", _any, _year_format),
    RowFault("term_code", ("spend",), "term", _any, _const("term", "winter")),
    RowFault("category_code", ("spend",), "category", _any, _const("category", "tutoring")),
    RowFault("amount_range", ("spend",), "amount_gbp", _any, _amount_range),
    RowFault("amount_decimals", ("spend",), "amount_gbp",
             _where(~pl.col("amount_gbp").str.starts_with("£")), _amount_decimals),
    RowFault("description_length", ("spend",), "description", _any,
             _const("description", LONG_DESCRIPTION)),
    RowFault("other_without_description", ("spend",), "description", _any, _other_blank),
    RowFault("allocation_range", ("allocations",), "allocation_gbp", _any, _allocation_range),
    RowFault("upn_check_letter", ("outcomes",), "upn", _any, _bad_check_letter,
             record_value=False),
    RowFault("year_group_code", ("outcomes",), "year_group", _any, _const("year_group", "15")),
    RowFault("sen_provision_code", ("outcomes",), "sen_provision", _where(_N),
             _const("sen_provision", "S")),
    RowFault("primary_need_code", ("outcomes",), "primary_need", _where(_KE),
             _const("primary_need", "ADHD")),
    RowFault("primary_need_required", ("outcomes",), "primary_need", _where(_KE),
             _const("primary_need", None)),
    RowFault("primary_need_not_allowed", ("outcomes",), "primary_need", _where(_N),
             _const("primary_need", "SLCN")),
    RowFault("first_identified_required", ("outcomes",), "first_identified_year_group",
             _where(_KE), _const("first_identified_year_group", None)),
    RowFault("sessions_possible_range", ("outcomes",), "sessions_possible", _any,
             _const("sessions_possible", "450")),
    RowFault("attended_exceeds_possible", ("outcomes",), "sessions_attended",
             _where(pl.col("sessions_possible").cast(pl.Int64) <= 400),
             _plus("sessions_attended", "sessions_possible", 3)),
    RowFault("base_exceeds_attended", ("outcomes",), "base_sessions", _any,
             _plus("base_sessions", "sessions_attended", 2)),
    RowFault("suspensions_range", ("outcomes",), "suspensions", _any,
             _const("suspensions", "55")),
    RowFault("boolean_value", ("outcomes",), "permanently_excluded", _where(_NOT_TRUE),
             _const("permanently_excluded", "maybe")),
    RowFault("plan_targets_met_exceeds_set", ("outcomes",), "plan_targets_met",
             _where(pl.col("plan_targets_set").is_not_null()),
             _plus("plan_targets_met", "plan_targets_set", 2)),
    RowFault("plan_reviewed_after_year", ("outcomes",), "plan_reviewed_on", _where(_KE),
             _reviewed_after),
    RowFault("leaving_reason_required", ("outcomes",), "leaving_reason",
             _eligible_left(lambda c: _left(c) & pl.col("destination").is_null()
                            & pl.col("destination_sustained").is_null()),
             _const("leaving_reason", None)),
    RowFault("leaving_reason_not_allowed", ("outcomes",), "leaving_reason",
             _eligible_left(lambda c: ~_left(c)), _const("leaving_reason", "moved_away")),
    RowFault("destination_not_allowed", ("outcomes",), "destination",
             _eligible_left(lambda c: ~_left(c)), _const("destination", "education")),
    RowFault("destination_sustained_without_destination", ("outcomes",),
             "destination_sustained", _where(pl.col("destination").is_null()),
             lambda df, idx, ctx, rng: ({"destination_sustained": [ctx.bool_style[0]] * idx.size},
                                        [ctx.bool_style[0]] * idx.size)),
    RowFault("date_format", ("outcomes",), "plan_reviewed_on",
             _where(pl.col("plan_reviewed_on").is_not_null()), _dotted("plan_reviewed_on")),
    RowFault("integer_format", ("outcomes",), "suspensions", _any, _words("suspensions")),
    RowFault("respondent_id_is_upn", ("voice",), "respondent_id", _any, _respondent_upn,
             record_value=False),
    RowFault("respondent_type_code", ("voice",), "respondent_type", _any,
             _const("respondent_type", "student")),
    RowFault("question_code_unknown", ("voice",), "question_code", _any,
             _const("question_code", "P_BEL_9")),
    RowFault("question_wrong_respondent_type", ("voice",), "question_code", _any,
             _wrong_type_question),
    RowFault("response_range", ("voice",), "response", _any, _response_range),
    RowFault("collected_on_outside_year", ("voice",), "collected_on", _any, _collected_outside),
    RowFault("date_format", ("voice",), "collected_on", _any, _dotted("collected_on")),
    RowFault("integer_format", ("voice",), "response",
             _where(pl.col("response").is_not_null()), _words("response")),
)
DUPLICATE = "duplicate_pupil"


def for_source(source: str) -> list[RowFault]:
    return [f for f in FAULTS if source in f.sources]


def kinds() -> set[str]:
    return {f.kind for f in FAULTS} | {DUPLICATE}
