"""What every source's Pandera model shares: reference binding and common checks.

Checks are named with the rule vocabulary (pipelines/ingest/rules.py), so
`SchemaErrors.failure_cases.check` is already the quarantine rule. Each check is written
for one column (the column a business manager must fix) and may read others; a check
whose inputs are null passes (pandera's ignore_na), because a missing value is reported
once, by `required_value`, not again by every rule that reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandera.polars as pa
import polars as pl

from pipelines.ingest.reference import ReferenceCodes

YEAR_GROUPS = ["N1", "N2", "R", *[str(n) for n in range(1, 15)]]
SEN_PROVISION = ["N", "K", "E"]


def academic_year_ok(expr: pl.Expr) -> pl.Expr:
    """`YYYY/YY` with consecutive years (2025/26)."""
    start = expr.str.slice(0, 4).cast(pl.Int64, strict=False)
    end = expr.str.slice(5, 2).cast(pl.Int64, strict=False)
    return expr.str.contains(r"^\d{4}/\d{2}$") & (end == (start + 1) % 100)


def year_start(expr: pl.Expr) -> pl.Expr:
    """1 September of the academic year's first calendar year."""
    return pl.date(expr.str.slice(0, 4).cast(pl.Int32, strict=False), 9, 1)


def year_end(expr: pl.Expr) -> pl.Expr:
    """31 August of the academic year's second calendar year."""
    return pl.date(expr.str.slice(0, 4).cast(pl.Int32, strict=False) + 1, 8, 31)


def rule(name: str, *columns: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """`pa.check` whose failures are reported under the rule name `name`.

    pandera 0.35 pops `name` from a check's settings when it first builds a schema, so a
    second model built from the same class (each `bound()` subclass) would report the
    function's name instead. The function is therefore renamed to the rule as well.
    """

    def decorate(fn: Callable[..., Any]) -> Any:
        fn.__name__ = name
        return pa.check(*columns, name=name, **kwargs)(fn)

    return decorate


def required(*columns: str) -> Any:
    """A `required_value` check on the given columns (null fails, unlike other checks)."""

    def check(cls: Any, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).is_not_null())

    return rule("required_value", *columns, ignore_na=False)(check)


def one_of(column: str, name: str, codes: list[str]) -> Any:
    """A code-list check: the value is one of `codes` (null passes)."""

    def check(cls: Any, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).is_in(codes))

    return rule(name, column)(check)


def in_range(column: str, name: str, low: float, high: float | None = None) -> Any:
    """low ≤ value (≤ high)."""

    def check(cls: Any, data: Any) -> pl.LazyFrame:
        value = pl.col(data.key)
        ok = value >= low if high is None else value.is_between(low, high)
        return data.lazyframe.select(ok)

    return rule(name, column)(check)


class ReferenceBoundModel(pa.DataFrameModel):
    """A contract whose checks may consult the register and code lists.

    `bound(reference)` returns a subclass carrying the reference codes; the checks read
    them from `cls._reference`. (A leading underscore keeps Pandera from taking it for a
    column.)
    """

    _reference: ReferenceCodes = ReferenceCodes()

    row_number: int

    @classmethod
    def bound(cls, reference: ReferenceCodes) -> type[ReferenceBoundModel]:
        return type(f"{cls.__name__}Bound", (cls,), {"_reference": reference})

    @rule("urn_not_in_register", "urn")
    def _urn_in_register(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("urn").is_in(list(cls._reference.urns)))

    @rule("academic_year_format", "academic_year")
    def _academic_year(cls, data: Any) -> pl.LazyFrame:
        return data.lazyframe.select(academic_year_ok(pl.col("academic_year")))

    class Config:
        strict = False  # the typed frame may carry helper columns
        coerce = False  # parsing already typed every column
