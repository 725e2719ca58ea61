"""What a source's file must hold: its columns, their kinds, and its unit of replacement.

Each source's `contract.py` declares one `SourceSpec` next to its Pandera model, so every
rule for a source lives in one place; the shared ingest code works from the spec alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.ingest.contract_support import ReferenceBoundModel


class Kind(StrEnum):
    """How a cell's text is parsed (pipelines/ingest/parsers.py)."""

    TEXT = "text"
    INTEGER = "integer"
    MONEY = "money"
    BOOLEAN = "boolean"
    DATE = "date"
    UPN = "upn"  # text that is pseudonymised before anything is written


SQL_TYPES = {
    Kind.TEXT: "VARCHAR",
    Kind.INTEGER: "INTEGER",
    Kind.MONEY: "DECIMAL(12,2)",
    Kind.BOOLEAN: "BOOLEAN",
    Kind.DATE: "DATE",
    Kind.UPN: "VARCHAR",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True  # a value is required; the column itself must then be present
    sql_type: str | None = None  # overrides SQL_TYPES (e.g. BIGINT urn, SMALLINT response)
    stored_as: str | None = None  # raw column name when it differs (upn -> pupil_id)
    free_text: bool = False  # UPN-shaped substrings are removed before storing

    @property
    def raw_name(self) -> str:
        return self.stored_as or self.name

    @property
    def raw_sql_type(self) -> str:
        return self.sql_type or SQL_TYPES[self.kind]


@dataclass(frozen=True)
class SourceSpec:
    name: str
    columns: tuple[Column, ...]
    unit_keys: tuple[str, ...]  # (urn, academic_year[, term]): the unit of replacement
    contract: type[ReferenceBoundModel]
    duplicate_key: tuple[str, ...] = ()  # rows sharing it are all quarantined
    duplicate_rule: str = ""
    duplicate_column: str = ""  # the column the duplicate reason is reported against

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)
