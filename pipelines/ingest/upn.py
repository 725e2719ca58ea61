"""Unique Pupil Number check letter (DfE algorithm), vectorised over a Polars column.

The contract asks for "a 13-character UPN with a valid check letter", so only the shape
and the check letter are tested. `stdnum.gb.upn.validate` also rejects LA numbers missing
from its 2011 list (e.g. 940/941, the Northamptonshire authorities created in 2021), which
would quarantine real pupils; the check letter itself is computed exactly as
`stdnum.gb.upn.calc_check_digit` does (tests compare the two on random numbers).
"""

from __future__ import annotations

import polars as pl

# The DfE alphabet: letters without I, O, S, then the digits (index = value).
ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ0123456789"
_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
UPN_SHAPE = rf"^[{_LETTERS}]\d{{11}}[{_LETTERS}0-9]$"
# Anything that looks like a UPN (any letter), for scrubbing free text and stray cells.
UPN_LIKE = r"[A-Za-z]\d{11}[A-Za-z0-9]"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_CHECK_LETTER = dict(enumerate(ALPHABET[:23]))


def normalise_upn(expr: pl.Expr) -> pl.Expr:
    """UPNs are compared and hashed trimmed and upper-cased, so 'a12...' is 'A12...'."""
    return expr.str.strip_chars().str.to_uppercase()


def valid_upns(frame: pl.LazyFrame, column: str) -> pl.LazyFrame:
    """One Boolean column, named `column`: True where the (normalised) value is a UPN with
    the right check letter; null stays null.

    Characters 2-13 are weighted 2..13 by their value in the alphabet; characters 2-12
    are digits in any UPN of the right shape, worth 23 + the digit, so they are read as
    one integer and taken apart arithmetically. The three selects are deliberate: in one
    expression Polars recomputed the normalised text and the integer at every use, which
    made this check most of the contracts' time (0.49 s against 0.06 s for 500,000
    UPNs, measured).
    """
    upn, digits = pl.col(column), pl.col("__digits")
    total = pl.lit(23 * sum(range(2, 13)), dtype=pl.Int64)
    for position in range(1, 12):
        total = total + (digits // 10 ** (11 - position) % 10) * (position + 1)
    last = upn.str.slice(12, 1).replace_strict(_VALUE, default=0, return_dtype=pl.Int64)
    expected = ((total + last * 13) % 23).replace_strict(
        _CHECK_LETTER, default="?", return_dtype=pl.String
    )
    return (
        frame.select(normalise_upn(upn))
        .with_columns(upn.str.slice(1, 11).cast(pl.Int64, strict=False).alias("__digits"))
        .select(upn.str.contains(UPN_SHAPE) & (upn.str.slice(0, 1) == expected))
    )
