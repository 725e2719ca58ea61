"""The reference codes the contracts check against, read once per run from `ref`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb


@dataclass(frozen=True)
class ReferenceCodes:
    urns: frozenset[int] = frozenset()
    spend_categories: frozenset[str] = frozenset()
    # "respondent_type|question_code" for every question in the bank
    questions_by_type: frozenset[str] = frozenset()
    question_codes: frozenset[str] = frozenset()
    today: date = field(default_factory=date.today)  # "not in the future" is judged against it


def load_reference(conn: duckdb.DuckDBPyConnection, today: date | None = None) -> ReferenceCodes:
    def column(sql: str) -> list[object]:
        return [row[0] for row in conn.execute(sql).fetchall()]

    try:
        # A predecessor URN (closed at academy conversion, so no longer in the register)
        # still identifies a school in the register through GIAS links: its history is
        # accepted and staged under the current URN.
        urns = column(
            "SELECT urn FROM ref.schools UNION SELECT c.urn FROM ref.urn_current c "
            "JOIN ref.schools s ON s.urn = c.current_urn"
        )
        categories = column("SELECT code FROM ref.spend_categories")
        questions = conn.execute(
            "SELECT respondent_type, question_code FROM ref.question_bank"
        ).fetchall()
    except duckdb.CatalogException as error:
        raise RuntimeError(
            "The reference tables are missing from the warehouse: materialise "
            "ref/reference_tables before ingesting."
        ) from error
    return ReferenceCodes(
        urns=frozenset(int(u) for u in urns),  # type: ignore[call-overload]
        spend_categories=frozenset(str(c) for c in categories),
        questions_by_type=frozenset(f"{t}|{q}" for t, q in questions),
        question_codes=frozenset(str(q) for _, q in questions),
        today=today or date.today(),
    )
