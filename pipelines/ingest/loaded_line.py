"""The line a long ingest logs every `PROGRESS_EVERY_S` while files load, written and read
back in one place: ingest writes it to the run's log (followed by the files' names), and
`imf run`'s progress logger reads it back to show how far a long step has got."""

from __future__ import annotations

import re
from typing import NamedTuple


class LoadedLine(NamedTuple):
    """`more` files of `source` loaded since the last line; `loaded` of `new` so far."""

    source: str
    more: int
    loaded: int
    new: int

    def __str__(self) -> str:
        return (f"✓ {self.source}: {self.more:,} more files loaded "
                f"({self.loaded:,} of {self.new:,} new)")

    @classmethod
    def parse(cls, message: str) -> LoadedLine | None:
        """The line at the start of `message` (the files' names may follow), if any."""
        found = _LOADED_LINE.match(message)
        if found is None:
            return None
        return cls(found["source"], *(int(found[k].replace(",", ""))
                                      for k in ("more", "loaded", "new")))


_LOADED_LINE = re.compile(r"✓ (?P<source>\w+): (?P<more>[\d,]+) more files loaded "
                          r"\((?P<loaded>[\d,]+) of (?P<new>[\d,]+) new\)(?::|$)")
