"""Make text that came from input safe to put in a spreadsheet cell.

School and group names come from registers and submissions that anyone upstream could
have typed into. A spreadsheet program treats a cell starting with `=`, `+`, `-`, `@`,
tab or carriage return as a formula (CSV/DDE injection, OWASP "CSV Injection"), so such
text cells get a leading apostrophe. Only *text* columns go through here: indicator
columns hold numbers or EES symbols and are validated separately, so a gap of `-3.2`
stays a number. HTML is escaped by jinja2's autoescape, not here.
"""

from __future__ import annotations

import re

import polars as pl

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s{2,}")


def clean_label(text: str) -> str:
    """One line of text: control characters (newlines, tabs, NUL) become a space.

    EES filter items and labels must be single-line and have no leading/trailing
    whitespace; collapsing also stops a name hiding a second line in a CSV cell.
    """
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def neutralise_cell(text: str) -> str:
    """A text cell a spreadsheet will not evaluate: prefix formula triggers with `'`."""
    if text and text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def safe_text(text: str) -> str:
    """Clean then neutralise: the form every input-derived text cell is written in."""
    return neutralise_cell(clean_label(text))


def neutralise_columns(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Apply `safe_text` to the given text columns only (never to indicator columns)."""
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns(
        pl.col(c).map_elements(safe_text, return_dtype=pl.String) for c in present
    )
