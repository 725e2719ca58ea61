"""Tiny hand-made warehouses for the model and indicator tests.

Staging and reference tables are created here directly, with the columns of
docs/warehouse.md, so these tests need neither the ingest code nor the seeds, and every
expected number in a test can be worked out by hand from the rows it adds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pytest

from pipelines.indicators.assets import write_published
from pipelines.models import Model, load_models, ordered, run_models

STAGING_DDL = {
    "stg_outcomes__pupil_years": """
        submission_id VARCHAR, row_number INTEGER, urn BIGINT, reported_urn BIGINT,
        academic_year VARCHAR, pupil_id VARCHAR, year_group VARCHAR, sen_provision VARCHAR,
        primary_need VARCHAR, first_identified_year_group VARCHAR,
        sessions_possible INTEGER, sessions_attended INTEGER, base_sessions INTEGER,
        suspensions INTEGER, permanently_excluded BOOLEAN, plan_targets_set INTEGER,
        plan_targets_met INTEGER, plan_reviewed_on DATE, left_roll BOOLEAN,
        leaving_reason VARCHAR, destination VARCHAR, destination_sustained BOOLEAN,
        met_expected_standard BOOLEAN""",
    "stg_voice__responses": """
        submission_id VARCHAR, row_number INTEGER, urn BIGINT, reported_urn BIGINT,
        academic_year VARCHAR, respondent_id VARCHAR, respondent_type VARCHAR,
        sen_provision VARCHAR, year_group VARCHAR, question_code VARCHAR, response SMALLINT,
        collected_on DATE""",
    "stg_spend__lines": """
        submission_id VARCHAR, row_number INTEGER, urn BIGINT, reported_urn BIGINT,
        academic_year VARCHAR, term VARCHAR, category VARCHAR, amount_gbp DECIMAL(12,2),
        description VARCHAR""",
    "stg_allocations__allocations": """
        submission_id VARCHAR, row_number INTEGER, urn BIGINT, reported_urn BIGINT,
        academic_year VARCHAR, allocation_gbp DECIMAL(12,2)""",
}

REF_DDL = {
    "schools": """urn BIGINT, laestab BIGINT, la_code VARCHAR, new_la_code VARCHAR,
        la_name VARCHAR, region_code VARCHAR, region_name VARCHAR, school_name VARCHAR,
        phase VARCHAR, establishment_type VARCHAR, is_mainstream BOOLEAN, trust VARCHAR,
        district_code VARCHAR, ward_code VARCHAR, headcount_pupils BIGINT""",
    "urn_current": "urn BIGINT, current_urn BIGINT",
    "partnership_groups": "group_id VARCHAR, group_name VARCHAR, la_code VARCHAR, "
    "district_code VARCHAR",
    "group_membership": "urn BIGINT, group_id VARCHAR, from_year VARCHAR, to_year VARCHAR",
    "question_bank": "question_code VARCHAR, respondent_type VARCHAR, domain VARCHAR, "
    "text VARCHAR, reverse_scored BOOLEAN",
    "spend_categories": "code VARCHAR, layer VARCHAR, meaning VARCHAR",
}

# A small question bank: two items per domain, the second of some reverse-scored.
QUESTIONS = [
    ("P_BEL_1", "pupil", "belonging", False),
    ("P_BEL_3", "pupil", "belonging", True),
    ("P_WEL_1", "pupil", "wellbeing", False),
    ("P_WEL_2", "pupil", "wellbeing", True),
    ("P_SAF_1", "pupil", "safety", False),
    ("P_SAF_2", "pupil", "safety", False),
    ("P_PAR_1", "pupil", "participation", False),
    ("P_PAR_3", "pupil", "participation", True),
    ("P_VOI_1", "pupil", "voice_heard", False),
    ("P_VOI_2", "pupil", "voice_heard", False),
    ("F_CON_1", "parent_carer", "family_confidence", False),
    ("F_CON_3", "parent_carer", "family_confidence", True),
]
CATEGORIES = [
    ("staff_development", "systemic"),
    ("inclusion_base", "targeted"),
    ("one_to_one_support", "individual"),
    ("other", "other"),
]

PUPIL_DEFAULTS: dict[str, Any] = {
    "year_group": "5",
    "sen_provision": "N",
    "primary_need": None,
    "first_identified_year_group": None,
    "sessions_possible": 100,
    "sessions_attended": 100,
    "base_sessions": 0,
    "suspensions": 0,
    "permanently_excluded": False,
    "plan_targets_set": None,
    "plan_targets_met": None,
    "plan_reviewed_on": None,
    "left_roll": False,
    "leaving_reason": None,
    "destination": None,
    "destination_sustained": None,
    "met_expected_standard": None,
}


@dataclass
class Fixture:
    """A hand-built warehouse: add schools, groups and rows, then run the models."""

    conn: duckdb.DuckDBPyConnection
    _rows: int = field(default=1)

    def _next_row(self) -> int:
        self._rows += 1
        return self._rows

    def group(self, group_id: str, la_code: str) -> None:
        self.conn.execute(
            "INSERT INTO ref.partnership_groups VALUES (?, ?, ?, ?)",
            [group_id, f"Group {group_id}", la_code, None],
        )

    def school(
        self,
        urn: int,
        group_id: str | None,
        la_code: str,
        from_year: str = "2020/21",
        to_year: str | None = None,
        current_urn: int | None = None,
    ) -> None:
        """A register school, its current URN and (optionally) one membership period."""
        self.conn.execute(
            "INSERT INTO ref.schools (urn, la_code, school_name, is_mainstream) "
            "VALUES (?, ?, ?, true)",
            [urn, la_code, f"School {urn}"],
        )
        self.conn.execute("INSERT INTO ref.urn_current VALUES (?, ?)", [urn, current_urn or urn])
        if group_id is not None:
            self.member(urn, group_id, from_year, to_year)

    def member(self, urn: int, group_id: str, from_year: str, to_year: str | None) -> None:
        self.conn.execute(
            "INSERT INTO ref.group_membership VALUES (?, ?, ?, ?)",
            [urn, group_id, from_year, to_year],
        )

    def pupil(self, urn: int, year: str, **values: Any) -> None:
        row = {**PUPIL_DEFAULTS, **values}
        unknown = set(values) - set(PUPIL_DEFAULTS)
        assert not unknown, unknown
        n = self._next_row()
        self.conn.execute(
            "INSERT INTO staging.stg_outcomes__pupil_years VALUES "
            f"(?, ?, ?, ?, ?, ?, {', '.join('?' for _ in PUPIL_DEFAULTS)})",
            [f"sub-out-{urn}-{year}", n, urn, urn, year, f"pupil-{n}", *row.values()],
        )

    def pupils(self, urn: int, year: str, count: int, **values: Any) -> None:
        for _ in range(count):
            self.pupil(urn, year, **values)

    def respondent(
        self,
        urn: int,
        year: str,
        respondent_id: str,
        answers: dict[str, int | None],
        sen_provision: str = "N",
        respondent_type: str = "pupil",
    ) -> None:
        for question, response in answers.items():
            self.conn.execute(
                "INSERT INTO staging.stg_voice__responses VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    f"sub-voice-{urn}-{year}",
                    self._next_row(),
                    urn,
                    urn,
                    year,
                    respondent_id,
                    respondent_type,
                    sen_provision,
                    "7",
                    question,
                    response,
                    dt.date(int(year[:4]) + 1, 3, 1),
                ],
            )

    def spend(
        self, urn: int, year: str, category: str, amount: float, term: str = "autumn"
    ) -> None:
        self.conn.execute(
            "INSERT INTO staging.stg_spend__lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                f"sub-spend-{urn}-{year}",
                self._next_row(),
                urn,
                urn,
                year,
                term,
                category,
                amount,
                None,
            ],
        )

    def allocation(self, urn: int, year: str, amount: float) -> None:
        self.conn.execute(
            "INSERT INTO staging.stg_allocations__allocations VALUES (?, ?, ?, ?, ?, ?)",
            [f"sub-alloc-{urn}-{year}", self._next_row(), urn, urn, year, amount],
        )

    def run(self, years: Sequence[str], threshold: int | None = None) -> None:
        """Every non-staging model for the years, then (with a threshold) publication."""
        run_models(self.conn, downstream_models(), years)
        if threshold is not None:
            write_published(self.conn, threshold)

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    def value(
        self,
        indicator_id: str,
        year: str,
        breakdown: str = "All pupils",
        level: str = "partnership_group",
        place: str | None = None,
        table: str = "indicators.indicator_values",
    ) -> dict[str, Any]:
        """The one row of indicator_values (or published_values) for a cell."""
        where = {"partnership_group": "group_id", "local_authority": "la_code"}.get(level)
        sql = (
            f"SELECT * FROM {table} WHERE indicator_id = ? AND academic_year = ? "
            "AND sen_breakdown = ? AND level = ?"
        )
        params: list[Any] = [indicator_id, year, breakdown, level]
        if where:
            sql += f" AND {where} = ?"
            params.append(place)
        found = self.rows(sql, params)
        assert len(found) == 1, (indicator_id, year, breakdown, level, place, found)
        return found[0]


def downstream_models() -> list[Model]:
    """The models this suite tests: everything after staging (staging is built here)."""
    return [m for m in ordered(load_models()) if m.layer != "staging"]


def create_inputs(conn: duckdb.DuckDBPyConnection) -> None:
    for schema in ("ref", "staging", "intermediate", "marts", "indicators", "audit"):
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for name, columns in STAGING_DDL.items():
        conn.execute(f"CREATE TABLE staging.{name} ({columns})")
    for name, columns in REF_DDL.items():
        conn.execute(f"CREATE TABLE ref.{name} ({columns})")
    conn.executemany(
        "INSERT INTO ref.question_bank VALUES (?, ?, ?, ?, ?)",
        [(q, t, d, f"Question {q}", r) for q, t, d, r in QUESTIONS],
    )
    conn.executemany(
        "INSERT INTO ref.spend_categories VALUES (?, ?, ?)",
        [(c, layer, c) for c, layer in CATEGORIES],
    )


@contextmanager
def fresh_fixture() -> Iterator[Fixture]:
    """An in-memory warehouse with empty staging and reference tables."""
    conn = duckdb.connect(":memory:")
    create_inputs(conn)
    try:
        yield Fixture(conn)
    finally:
        conn.close()


@pytest.fixture
def wh() -> Iterator[Fixture]:
    with fresh_fixture() as fixture:
        yield fixture
