"""Unique Pupil Numbers, written from the DfE specification rather than borrowed from the
validator's library, so that a mistake in one cannot hide the same mistake in the other.

A UPN is a check letter followed by 12 digits: LA number (3), establishment number (4),
year of allocation (2) and serial (3). The check letter is
    sum(digit at position i * i for positions 2..13) mod 23
used as an index into the 23 letters below (I, O and S are never used).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import NDArray

CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_WEIGHTS = np.arange(2, 14, dtype=np.int64)  # positions 2..13
_POWERS = 10 ** np.arange(11, -1, -1, dtype=np.int64)  # digit 1 of 12 is the most significant


def code(la: NDArray[np.int64] | int, estab: NDArray[np.int64] | int,
         year2: NDArray[np.int64] | int, serial: NDArray[np.int64] | int) -> NDArray[np.int64]:
    """The 12 digits after the check letter as one integer (fits easily in int64)."""
    return np.asarray(
        ((np.asarray(la, np.int64) * 10_000 + estab) * 100 + year2) * 1000 + serial, np.int64
    )


def check_index(codes: NDArray[np.int64]) -> NDArray[np.int64]:
    """Position of the check letter in CHECK_LETTERS for each 12-digit code."""
    digits = (np.asarray(codes, np.int64)[:, None] // _POWERS) % 10
    return np.asarray((digits * _WEIGHTS).sum(axis=1) % 23, np.int64)


def check_letter(digits12: str) -> str:
    """The check letter for one 12-digit string (scalar version, for tests and faults)."""
    if len(digits12) != 12 or not digits12.isdigit():
        raise ValueError("expected 12 digits")
    total = sum(int(d) * w for d, w in zip(digits12, range(2, 14), strict=True))
    return CHECK_LETTERS[total % 23]


def to_strings(codes: NDArray[np.int64]) -> pl.Series:
    """13-character UPN strings for the codes."""
    letters = pl.Series(list(CHECK_LETTERS)).gather(check_index(codes))
    return (
        letters
        + pl.Series("upn_digits", codes).cast(pl.String).str.zfill(12)
    ).alias("upn")


def wrong_letter(upn: str) -> str:
    """The same UPN with a check letter that does not match its digits."""
    good = CHECK_LETTERS.index(upn[0])
    return CHECK_LETTERS[(good + 7) % 23] + upn[1:]
