"""Header normalisation: `Academic Year`, ` academic-year ` and `ACADEMIC_YEAR` are one column."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.ingest.pseudonym import remove_upns
from pipelines.ingest.rules import FileRefused
from pipelines.ingest.spec import SourceSpec

_SEPARATORS = re.compile(r"[\s\-]+")
# A refusal reason names a few of the columns found, not all of them: a garbage header line
# can hold thousands of "columns", and the reason goes to the log, the UI and the sender.
_SHOWN_COLUMNS = 10
_SHOWN_NAME_CHARS = 40


def normalise_header(name: str | None) -> str:
    """Trim, lower-case, and read runs of spaces/hyphens as one underscore.

    Excel and some MIS exports put a byte-order mark or non-breaking spaces in the first
    header cell; those are stripped too.
    """
    text = (name or "").replace("\ufeff", "").replace("\u00a0", " ").strip().lower()
    return _SEPARATORS.sub("_", text)


@dataclass
class HeaderMap:
    cells: dict[str, str]  # reader column (c0, c1, ...) -> contract column
    extra_columns: list[str]  # dropped, listed in the submission log
    absent_optional: list[str]  # optional columns not in the file: read as empty


def map_header(header: list[str | None], spec: SourceSpec) -> HeaderMap:
    """Match a file's header row to the contract, or refuse the file saying what to fix."""
    wanted = set(spec.column_names)
    cells: dict[str, str] = {}
    extras: list[str] = []
    for position, raw in enumerate(header):
        name = normalise_header(raw)
        if name in wanted:
            if name in cells.values():
                raise FileRefused(
                    "duplicate_column",
                    f"it has the column '{name}' more than once. Keep one and send the file "
                    "again.",
                )
            cells[f"c{position}"] = name
        elif name:
            extras.append(remove_upns(str(raw).strip()))  # a header cell may be data
        # a nameless column (e.g. a trailing comma) carries nothing the contract asks for
    found = set(cells.values())
    missing = [c for c in spec.required_columns if c not in found]
    if missing:
        shown = _found_columns(header)
        names = ", ".join(f"'{c}'" for c in missing)
        plural = "s" if len(missing) > 1 else ""
        raise FileRefused(
            "missing_column",
            f"it has no column{plural} {names} (found: {shown}). Add the column{plural} "
            "and send the file again.",
        )
    absent = [c for c in spec.column_names if c not in found]
    return HeaderMap(cells, extras, absent)


def _found_columns(header: list[str | None]) -> str:
    """The first few column names found (each cut short), and how many more there are."""
    # Without its header row a file's first pupil is taken for the header: never quote
    # a UPN back.
    names = [remove_upns(name) for name in (normalise_header(h) for h in header) if name]
    if not names:
        return "none"
    shown = [name if len(name) <= _SHOWN_NAME_CHARS else name[:_SHOWN_NAME_CHARS - 1] + "…"
             for name in names[:_SHOWN_COLUMNS]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more else "")
