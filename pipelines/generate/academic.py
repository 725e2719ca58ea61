"""Academic years, year groups and dates as the data contract defines them."""

from __future__ import annotations

import datetime as dt

# The latest complete academic year: "today" for this project is late November 2026, so
# 2025/26 (ended 31 August 2026) is the last year any generated date may fall in.
LAST_YEAR_START = 2025

# Year group codes in order; a pupil's index advances by one each September.
YEAR_GROUPS: tuple[str, ...] = ("N1", "N2", "R", *(str(i) for i in range(1, 15)))
N_YG = len(YEAR_GROUPS)


def yg(code: str) -> int:
    """Index of a year group code in YEAR_GROUPS."""
    return YEAR_GROUPS.index(code)


Y_R, Y2, Y3, Y6, Y7, Y11, Y12, Y13 = (yg(c) for c in ("R", "2", "3", "6", "7", "11", "12", "13"))


def start_years(years: int) -> list[int]:
    """Calendar years in which the `years` academic years ending 2025/26 start."""
    if years < 1:
        raise ValueError("years must be at least 1")
    return list(range(LAST_YEAR_START - years + 1, LAST_YEAR_START + 1))


def label(start: int) -> str:
    """'2025/26' for the year starting in September 2025."""
    return f"{start}/{(start + 1) % 100:02d}"


def file_label(start: int) -> str:
    """'2025-26': the academic year as it appears in file names (no slash)."""
    return f"{start}-{(start + 1) % 100:02d}"


def first_day(start: int) -> dt.date:
    return dt.date(start, 9, 1)


def last_day(start: int) -> dt.date:
    return dt.date(start + 1, 8, 31)


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01, the unit numpy's datetime64[D] and polars' Date use."""
    return (day - dt.date(1970, 1, 1)).days
