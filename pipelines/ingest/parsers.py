"""Cell text → typed values, as the contract reads them.

Every cell arrives as text. Surrounding spaces are ignored and an empty cell is null. A
non-empty cell that cannot be read as its column's type becomes null in the typed frame
and a failure (row_number, column, rule) for the quarantine — it is never guessed at.
Nothing here evaluates a cell: formulas, paths and SQL are only ever text.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from pipelines.ingest.pseudonym import remove_upns_in_text
from pipelines.ingest.spec import Column, Kind, SourceSpec

ROW = "row_number"
FAILURE_SCHEMA = {ROW: pl.Int64, "column_name": pl.String, "rule": pl.String}

_TRUE = ["y", "yes", "true", "1"]
_FALSE = ["n", "no", "false", "0"]
_INTEGER = r"^[+-]?\d{1,9}$"  # at most 9 digits: anything longer is not a count or a URN
_MONEY = r"^[+-]?(\d+\.?\d*|\.\d+)$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_UK_DATE = r"^\d{1,2}/\d{1,2}/\d{4}$"


def cleaned(name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars()
    return pl.when(text != "").then(text)


def any_value(names: Sequence[str]) -> pl.Expr:
    """Whether any of the cells holds a value as `cleaned` reads them (not null, not only
    spaces): the cells run together are more than spaces. The same answer as asking each
    cell (tests/test_ingest_property.py), ~0.7 ms for a school's file against ~5 ms."""
    together = pl.concat_str(list(names), ignore_nulls=True).str.strip_chars()
    return (together != "").fill_null(False)


def _integer(name: str) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
    text = cleaned(name)
    ok = text.str.contains(_INTEGER)
    return pl.when(ok).then(text.cast(pl.Int64, strict=False)), [(ok.not_(), "integer_format")]


def _money(name: str) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
    # `£` and thousands commas are how people write money; they carry no information.
    text = cleaned(name).str.replace_all(r"[£,\s]", "")
    ok = text.str.contains(_MONEY)
    decimals = text.str.extract(r"\.(\d*)$").str.len_chars().fill_null(0)
    value = pl.when(ok).then(text.cast(pl.Float64, strict=False))
    return value, [(ok.not_(), "money_format"), (ok & (decimals > 2), "amount_decimals")]


def _boolean(name: str) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
    text = cleaned(name).str.to_lowercase()
    value = pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False)
    return value, [(text.is_in(_TRUE + _FALSE).not_(), "boolean_value")]


def _date(name: str) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
    text = cleaned(name)
    iso = pl.when(text.str.contains(_ISO_DATE)).then(
        text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    )
    uk = pl.when(text.str.contains(_UK_DATE)).then(
        text.str.strptime(pl.Date, "%d/%m/%Y", strict=False)
    )
    value = pl.coalesce(iso, uk)
    return value, [(value.is_null(), "date_format")]


def _text(column: Column) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
    text = cleaned(column.name)
    return (remove_upns_in_text(text) if column.free_text else text), []


def _parser(column: Column) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
    match column.kind:
        case Kind.INTEGER:
            return _integer(column.name)
        case Kind.MONEY:
            return _money(column.name)
        case Kind.BOOLEAN:
            return _boolean(column.name)
        case Kind.DATE:
            return _date(column.name)
        case _:
            return _text(column)


def parse(frame: pl.DataFrame, spec: SourceSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(typed frame with row_number, parse failures) for a frame of text cells."""
    values: list[pl.Expr] = [pl.col(ROW)]
    flags: list[pl.Expr] = [pl.col(ROW)]
    flag_rules: dict[str, tuple[str, str]] = {}
    for column in spec.columns:
        value, failures = _parser(column)
        values.append(value.alias(column.name))
        present = cleaned(column.name).is_not_null()
        for number, (failed, rule) in enumerate(failures):
            flag = f"{column.name}#{number}"
            flags.append((present & failed).fill_null(False).alias(flag))
            flag_rules[flag] = (column.name, rule)
    typed = frame.select(values)
    if not flag_rules:
        return typed, pl.DataFrame(schema=FAILURE_SCHEMA)
    flagged = (
        frame.select(flags)
        .unpivot(index=ROW, variable_name="flag", value_name="failed")
        .filter(pl.col("failed"))
    )
    lookup = pl.DataFrame(
        {
            "flag": list(flag_rules),
            "column_name": [c for c, _ in flag_rules.values()],
            "rule": [r for _, r in flag_rules.values()],
        }
    )
    found = flagged.join(lookup, on="flag").select(
        pl.col(ROW).cast(pl.Int64), "column_name", "rule"
    )
    return typed, found
