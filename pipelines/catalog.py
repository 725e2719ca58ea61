"""The plain-language catalogue of indicators, read from the header of each indicator's
SQL model, so the Dagster UI, the report and the EES metadata reuse the words written
beside the SQL and cannot drift from it.

A header is the leading block of `-- key: value` comment lines of
`models/indicators/ind_<id>.sql`; a line starting `--   ` continues the previous value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pipelines.settings import MODELS_DIR

_KEY_LINE = re.compile(r"^--\s*([a-z_]+):\s?(.*)$")
_CONTINUATION = re.compile(r"^--\s{2,}(\S.*)$")


@dataclass(frozen=True)
class IndicatorMeta:
    id: str
    title: str
    kind: str  # person | weighted | spend | coverage
    measures: str
    why: str
    read: str
    path: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        return "£" if self.id.endswith("_gbp") else "%"


def parse_header(sql: str) -> dict[str, str]:
    """The `-- key: value` lines at the top of a SQL file, as a dict."""
    header: dict[str, str] = {}
    last: str | None = None
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        if (cont := _CONTINUATION.match(line)) and last:
            header[last] = f"{header[last]} {cont.group(1).strip()}"
        elif key := _KEY_LINE.match(line):
            last = key.group(1)
            header[last] = key.group(2).strip()
    return header


@cache
def indicator_catalog(models_dir: Path = MODELS_DIR) -> tuple[IndicatorMeta, ...]:
    """Every indicator with a header, in file-name order."""
    metas = []
    for path in sorted((models_dir / "indicators").glob("ind_*.sql")):
        header = parse_header(path.read_text())
        if "id" not in header:
            continue
        known = {"id", "title", "kind", "measures", "why", "read"}
        metas.append(
            IndicatorMeta(
                id=header["id"],
                title=header.get("title", header["id"]),
                kind=header.get("kind", "person"),
                measures=header.get("measures", ""),
                why=header.get("why", ""),
                read=header.get("read", ""),
                path=path,
                extra={k: v for k, v in header.items() if k not in known},
            )
        )
    return tuple(metas)
