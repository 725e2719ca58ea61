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


def normalise_upn(expr: pl.Expr) -> pl.Expr:
    """UPNs are compared and hashed trimmed and upper-cased, so 'a12...' is 'A12...'."""
    return expr.str.strip_chars().str.to_uppercase()


def valid_upn(expr: pl.Expr) -> pl.Expr:
    """True where the (normalised) value is a UPN with the right check letter; null stays null."""
    upn = normalise_upn(expr)
    total = pl.lit(0, dtype=pl.Int64)
    for position in range(1, 13):  # characters 2-13 weighted 2..13
        char = upn.str.slice(position, 1)
        value = char.replace_strict(_VALUE, default=0, return_dtype=pl.Int64)
        total = total + value * (position + 1)
    expected = (total % 23).replace_strict(
        dict(enumerate(ALPHABET[:23])), default="?", return_dtype=pl.String
    )
    return upn.str.contains(UPN_SHAPE) & (upn.str.slice(0, 1) == expected)
