"""One chunk of a file through the contract: typed good rows, and every reason for bad ones.

Reasons come from three places, all reported the same way (row_number, column, rule,
value as read): cells that cannot be parsed, Pandera checks (run lazily, so every failure
of every row is collected), and duplicates found across the whole file beforehand. A cell
that failed to parse is not reported again by checks that read its (null) value.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandera.errors
import polars as pl

from pipelines.ingest.contract_support import ReferenceBoundModel
from pipelines.ingest.parsers import FAILURE_SCHEMA, ROW, cleaned, parse
from pipelines.ingest.pseudonym import Pseudonymiser
from pipelines.ingest.readers import OVERFLOW
from pipelines.ingest.spec import Kind, SourceSpec
from pipelines.ingest.upn import normalise_upn

EXTRA_VALUES_COLUMN = "(beyond the last column)"


@dataclass
class ChunkResult:
    good: pl.DataFrame  # row_number + raw columns (UPN already replaced by its pseudonym)
    failures: pl.DataFrame  # row_number, column_name, rule, value (pseudonymised if a UPN)
    bad_rows: pl.DataFrame  # row_number, row_json (the row as read, UPNs pseudonymised)
    units: pl.DataFrame  # the spec's unit keys and rows_loaded: the good rows per unit


def units_of(good: pl.DataFrame, spec: SourceSpec) -> pl.DataFrame:
    """Good rows per unit, counted here in the checker's thread, not the writer's."""
    return good.group_by(list(spec.unit_keys)).agg(pl.len().alias("rows_loaded"))


def duplicate_rows(keys: pl.DataFrame, spec: SourceSpec) -> pl.Series:
    """Row numbers of rows whose duplicate key occurs more than once in the whole file."""
    if not spec.duplicate_key:
        return pl.Series(ROW, [], dtype=pl.Int64)
    normalised = []
    for name in spec.duplicate_key:
        column = spec.column(name)
        expr = normalise_upn(cleaned(name)) if column.kind is Kind.UPN else cleaned(name)
        if column.kind is Kind.INTEGER:
            expr = expr.cast(pl.Int64, strict=False)
        normalised.append(expr.alias(name))
    return (
        keys.select(pl.col(ROW), *normalised)
        .drop_nulls()
        .filter(pl.len().over(list(spec.duplicate_key)) > 1)
        .get_column(ROW)
    )


def check_chunk(
    text: pl.DataFrame,
    spec: SourceSpec,
    contract: type[ReferenceBoundModel],
    pseudonymiser: Pseudonymiser,
    duplicates: pl.Series,
) -> ChunkResult:
    """`text`: row_number, the spec's columns (text, possibly null) and OVERFLOW."""
    # Pseudonymising (a Python HMAC loop, holding the GIL) runs beside parsing and the
    # contract (Polars, which releases it while it works).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="imf-pseudonymise") as pool:
        protecting = pool.submit(_protected, text, spec, pseudonymiser)
        typed, failures = parse(text, spec)
        failures = pl.concat(
            [failures, _contract_failures(typed, failures, contract), _extra_values(text),
             _duplicates(text, spec, duplicates)]
        )
        as_read = protecting.result()
    bad = failures.get_column(ROW).unique().implode()
    is_bad = pl.col(ROW).is_in(bad)
    bad_as_read = as_read.filter(is_bad)
    with_values = failures.join(_long(bad_as_read), on=[ROW, "column_name"], how="left")
    bad_rows = bad_as_read.select(ROW, _row_json(bad_as_read).alias("row_json"))
    # typed and as_read are row-aligned (both selected from `text`), so the pseudonyms can be
    # swapped in by position before filtering (filter keeps order; a join might not).
    for column in spec.columns:
        if column.kind is Kind.UPN:
            typed = typed.with_columns(as_read.get_column(column.name))
    good = typed.filter(is_bad.not_()).rename(
        {c.name: c.stored_as for c in spec.columns if c.stored_as}
    )
    return ChunkResult(good, with_values.sort(ROW), bad_rows, units_of(good, spec))


# Row numbers are INTEGER in the warehouse (below 2**31), so a chunk's place in a bundle
# can ride above them in the Int64 row number while the bundle is checked.
_MEMBER = 1 << 32


def check_chunks(
    members: Sequence[tuple[pl.DataFrame, pl.Series]],
    spec: SourceSpec,
    contract: type[ReferenceBoundModel],
    pseudonymiser: Pseudonymiser,
) -> list[ChunkResult]:
    """Several chunks (`(text, duplicates)` of different files) checked in one go, each
    given exactly what `check_chunk` gives it alone: every rule is about one row, so only
    the row numbers need keeping apart (see checker.py for why this exists)."""
    if len(members) == 1:  # a big chunk, or one asked for alone: nothing to keep apart
        [(chunk, duplicates)] = members
        return [check_chunk(chunk, spec, contract, pseudonymiser, duplicates)]
    text = pl.concat([chunk.with_columns(pl.col(ROW) + i * _MEMBER)
                      for i, (chunk, _) in enumerate(members)])
    duplicates = pl.concat([dups + i * _MEMBER for i, (_, dups) in enumerate(members)])
    together = check_chunk(text, spec, contract, pseudonymiser, duplicates)

    def member(frame: pl.DataFrame, i: int) -> pl.DataFrame:
        return frame.filter(pl.col(ROW) // _MEMBER == i).with_columns(
            pl.col(ROW) - i * _MEMBER)

    results = []
    for i in range(len(members)):
        good = member(together.good, i)
        results.append(ChunkResult(good, member(together.failures, i),
                                   member(together.bad_rows, i), units_of(good, spec)))
    return results


def _contract_failures(
    typed: pl.DataFrame, parse_failures: pl.DataFrame, contract: type[ReferenceBoundModel]
) -> pl.DataFrame:
    try:
        contract.validate(typed, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    if cases.get_column("index").null_count():
        # A failure without a row is a schema problem: a bug in parsing, not bad input.
        raise RuntimeError(f"The {contract.__name__} schema itself failed:\n{cases}")
    rows = typed.get_column(ROW)
    found = cases.select(
        rows.gather(cases.get_column("index").cast(pl.Int64)).alias(ROW),
        pl.col("column").alias("column_name"),
        pl.col("check").alias("rule"),
    )
    return found.join(parse_failures, on=[ROW, "column_name"], how="anti").unique(
        maintain_order=True
    )


def _extra_values(text: pl.DataFrame) -> pl.DataFrame:
    return text.filter(cleaned(OVERFLOW).is_not_null()).select(
        pl.col(ROW),
        pl.lit(EXTRA_VALUES_COLUMN).alias("column_name"),
        pl.lit("extra_values").alias("rule"),
    )


def _duplicates(text: pl.DataFrame, spec: SourceSpec, duplicates: pl.Series) -> pl.DataFrame:
    if not spec.duplicate_key:
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    return text.filter(pl.col(ROW).is_in(duplicates.implode())).select(
        pl.col(ROW),
        pl.lit(spec.duplicate_column).alias("column_name"),
        pl.lit(spec.duplicate_rule).alias("rule"),
    )


def _protected(text: pl.DataFrame, spec: SourceSpec, pseudonymiser: Pseudonymiser) -> pl.DataFrame:
    """The cells as read, with UPNs (and anything shaped like one) pseudonymised."""
    columns = []
    for name in [*spec.column_names, OVERFLOW]:
        values = text.get_column(name)
        is_upn = name in spec.column_names and spec.column(name).kind is Kind.UPN
        columns.append(pseudonymiser.series(values) if is_upn else pseudonymiser.scrub(values))
    return text.select(ROW).with_columns(columns).rename({OVERFLOW: EXTRA_VALUES_COLUMN})


def _long(as_read: pl.DataFrame) -> pl.DataFrame:
    return as_read.unpivot(index=ROW, variable_name="column_name", value_name="value")


def _row_json(as_read: pl.DataFrame) -> pl.Series:
    return as_read.select(
        pl.struct(pl.exclude(ROW)).struct.json_encode()
    ).to_series() if as_read.height else pl.Series([], dtype=pl.String)
