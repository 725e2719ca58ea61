"""The Great Expectations suites, written once as code and committed as JSON.

Each suite validates one warehouse table (docs/warehouse.md names). Every expectation
carries a severity (GX's own `severity` field and `meta.severity`, so it is visible in the
JSON and in Data Docs): `critical` failures block publishing, `warning` failures are shown
to auditors but do not block. Cross-table rules are `UnexpectedRowsExpectation`s: a SQL
query that returns the offending rows, so Data Docs show the rule in SQL and the failing
rows as evidence. In them `batch_rows` is the suite's own table: a CTE over GX's `{batch}`
placeholder, which GX fills in with `str.format` (why the SQL has no other braces).

`python -m pipelines.audit.suite_specs` rewrites `expectations/expectations/*.json`;
`tests/test_audit_suites.py` fails when the committed JSON and this file disagree, so
review sees every change to a rule in both places.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipelines.settings import EXPECTATIONS_DIR

Severity = Literal["critical", "warning"]
CRITICAL: Severity = "critical"
WARNING: Severity = "warning"

SUITES_DIR = EXPECTATIONS_DIR / "expectations"
GX_VERSION = "1.24.1"
_NAMESPACE = uuid.UUID("5b1d8a54-6f0e-4c51-9a8e-2f7f2b0c1a11")

# Reference code lists from the data contract (design/data-contract.md).
YEAR_GROUPS = ["N1", "N2", "R", *[str(n) for n in range(1, 15)]]
SEN_PROVISION = ["N", "K", "E"]
PRIMARY_NEED = ["SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD",
                "OTH", "NSA"]
LEAVING_REASONS = ["transfer", "moved_away", "elective_home_education", "alternative_provision",
                   "end_of_phase", "other", "unknown"]
DESTINATIONS = ["education", "apprenticeship", "employment", "training", "neet", "unknown"]
TERMS = ["autumn", "spring", "summer"]
RESPONDENT_TYPES = ["pupil", "parent_carer"]
SOURCES = ["spend", "allocations", "outcomes", "voice"]
LEVELS = ["national", "local_authority", "partnership_group"]
SEN_BREAKDOWNS = ["All pupils", "All SEN provision", "Education, health and care plan",
                  "SEN support / SEN without an EHC plan", "No SEN provision"]
KINDS = ["person", "weighted"]
INDICATOR_IDS = [
    "belonging_percent", "wellbeing_percent", "safety_percent", "participation_percent",
    "voice_heard_percent", "family_confidence_percent", "persistent_absence_percent",
    "suspended_percent", "permanently_excluded_percent", "unexplained_leaver_percent",
    "base_majority_percent", "plan_reviewed_percent", "early_identified_percent",
    "sustained_destination_percent", "expected_standard_percent", "attendance_percent",
    "mainstream_time_percent", "plan_targets_met_percent",
]
EES_SYMBOLS = ["c", "z", "x"]
# A school's attendance moving by more than this many percentage points between
# consecutive years is implausible enough for a person to look at (a warning, not a block).
YOY_JUMP_PP = 20
CELL_KEYS = ["level", "la_code", "group_id", "academic_year", "sen_breakdown", "indicator_id"]


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    schema: str
    table: str
    layer: str
    purpose: str
    expectations: list[dict[str, Any]] = field(default_factory=list)
    # The slice of a table the rules read, where it is not the whole table: the audit
    # re-validates the suite only when that slice (or its own table) changes
    # (pipelines/audit/fingerprints.py). A test checks each rule reads no more.
    narrow: dict[str, str] = field(default_factory=dict)

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}"


def _exp(type_: str, severity: Severity, why: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": type_, "kwargs": kwargs, "meta": {"severity": severity, "why": why},
            "severity": severity}


def not_null(columns: list[str], severity: Severity = CRITICAL) -> list[dict[str, Any]]:
    return [_exp("expect_column_values_to_not_be_null", severity,
                 f"every row has a {c}", column=c) for c in columns]


def unique(columns: list[str], why: str, severity: Severity = CRITICAL) -> dict[str, Any]:
    if len(columns) == 1:
        return _exp("expect_column_values_to_be_unique", severity, why, column=columns[0])
    # A key of several columns: the keys that occur more than once, by a GROUP BY.
    # GX's expect_compound_columns_to_be_unique joins every row to its key's count and
    # was the slowest check of the audit (1 s of 10 for one table at la scale); this
    # answers the same question (a NULL key part counts as a value, and the key columns
    # have their own not-null checks) with DuckDB's hash aggregate. Two passes: the
    # first groups one 64-bit hash per row instead of the key's text (two keys share a
    # hash only if equal or, rarely, by chance), the second groups by the key itself
    # only the rows whose hash occurs twice, so the answer is exact. At national scale
    # 35-45% faster (voice, 30 M rows: 4.1-5.2 s -> 2.8-3.3 s).
    key = ", ".join(columns)
    return rows(why, f"""WITH imf_repeated AS (
                            SELECT hash({key}) AS h FROM batch_rows GROUP BY h
                            HAVING count(*) > 1)
                         SELECT {key}, count(*) AS copies FROM batch_rows
                         WHERE hash({key}) IN (SELECT h FROM imf_repeated)
                         GROUP BY {key} HAVING count(*) > 1""", severity)


# The mart's (submission, row) pairs equal the staged ones as multisets: the surplus
# rows of each side, found by EXCEPT ALL both ways. Compared row by row only for the
# submissions whose row count or sum of row-number hashes differs between the two
# (equal counts and sums with different rows would need hashes that cancel out exactly):
# at national scale, 8.3 M rows a side, EXCEPT ALL over everything took 8.5-10.5 s and
# GX runs the query twice; the per-submission sums take 0.1 s when nothing differs.
SAME_ROWS_AS_STAGED = """
WITH f AS (SELECT submission_id, row_number FROM batch_rows),
     s AS (SELECT submission_id, row_number FROM staging.stg_outcomes__pupil_years),
     f_sums AS (SELECT submission_id IS NULL AS no_id, coalesce(submission_id, '') AS id,
                       count(*) AS n, sum(hash(row_number)) AS h FROM f GROUP BY ALL),
     s_sums AS (SELECT submission_id IS NULL AS no_id, coalesce(submission_id, '') AS id,
                       count(*) AS n, sum(hash(row_number)) AS h FROM s GROUP BY ALL),
     differ AS (SELECT coalesce(f_sums.no_id, s_sums.no_id) AS no_id,
                       coalesce(f_sums.id, s_sums.id) AS id
                FROM f_sums FULL JOIN s_sums
                  ON f_sums.no_id = s_sums.no_id AND f_sums.id = s_sums.id
                WHERE f_sums.n IS DISTINCT FROM s_sums.n OR f_sums.h IS DISTINCT FROM s_sums.h),
     f_differ AS (FROM f WHERE (submission_id IS NULL, coalesce(submission_id, ''))
                               IN (SELECT (no_id, id) FROM differ)),
     s_differ AS (FROM s WHERE (submission_id IS NULL, coalesce(submission_id, ''))
                               IN (SELECT (no_id, id) FROM differ))
(SELECT 'in mart, not staged' AS problem, * FROM (FROM f_differ EXCEPT ALL FROM s_differ))
UNION ALL
(SELECT 'staged, not in mart' AS problem, * FROM (FROM s_differ EXCEPT ALL FROM f_differ))
"""


def in_set(column: str, values: list[str], severity: Severity = CRITICAL) -> dict[str, Any]:
    return _exp("expect_column_values_to_be_in_set", severity,
                f"{column} uses only the codes in the data contract", column=column,
                value_set=values)


def between(column: str, low: float, high: float, severity: Severity = CRITICAL) -> dict[str, Any]:
    return _exp("expect_column_values_to_be_between", severity,
                f"{column} lies between {low:g} and {high:g}", column=column,
                min_value=low, max_value=high)


def not_more_than(smaller: str, larger: str, severity: Severity = CRITICAL) -> dict[str, Any]:
    return _exp("expect_column_pair_values_a_to_be_greater_than_b", severity,
                f"{smaller} never exceeds {larger}", column_A=larger, column_B=smaller,
                or_equal=True, ignore_row_if="either_value_is_missing")


def rows(description: str, sql: str, severity: Severity = CRITICAL) -> dict[str, Any]:
    """A rule as SQL returning the rows that break it (none expected)."""
    sql = " ".join(sql.split())
    # GX substitutes {batch} with an aliased subquery, so the table cannot be aliased
    # again in the query; a CTE named batch_rows gives every query the same handle.
    cte = "batch_rows AS (SELECT * FROM {batch})"
    sql = f"WITH {cte}, {sql[5:]}" if sql.startswith("WITH ") else f"WITH {cte} {sql}"
    exp = _exp("unexpected_rows_expectation", severity, description,
               unexpected_rows_query=sql)
    exp["description"] = description
    return exp


def _academic_year_wellformed() -> dict[str, Any]:
    return rows(
        "academic_year is written YYYY/YY with consecutive years (e.g. 2025/26)",
        """SELECT academic_year, count(*) AS n FROM batch_rows
           WHERE length(academic_year) <> 7 OR substr(academic_year, 5, 1) <> '/'
              OR try_cast(substr(academic_year, 1, 4) AS INTEGER) IS NULL
              OR try_cast(substr(academic_year, 6, 2) AS INTEGER) IS NULL
              OR (try_cast(substr(academic_year, 1, 4) AS INTEGER) + 1) % 100
                 <> try_cast(substr(academic_year, 6, 2) AS INTEGER)
           GROUP BY academic_year""")


def _in_register() -> dict[str, Any]:
    return rows(
        "every school (urn) is in the school register",
        """SELECT t.urn, count(*) AS n FROM batch_rows t
           WHERE NOT EXISTS (SELECT 1 FROM ref.schools s WHERE s.urn = t.urn)
           GROUP BY t.urn""")


def _in_a_group(severity: Severity = CRITICAL) -> dict[str, Any]:
    # 'YYYY/YY' strings sort in year order, so membership years compare as text.
    return rows(
        "every row's school is in a partnership group in that academic year",
        """SELECT t.urn, t.academic_year, count(*) AS n FROM batch_rows t
           WHERE NOT EXISTS (
             SELECT 1 FROM ref.group_membership m
             WHERE m.urn = t.urn AND m.from_year <= t.academic_year
               AND (m.to_year IS NULL OR m.to_year >= t.academic_year))
           GROUP BY t.urn, t.academic_year""",
        severity)


def _rows_match_submission_log(source: str, with_term: bool = False) -> dict[str, Any]:
    term_join = " AND u.term IS NOT DISTINCT FROM s.term" if with_term else ""
    term_sel = ", term" if with_term else ""
    return rows(
        "each current submission unit has exactly the rows the submission log says were "
        "loaded for it (nothing lost or doubled between loading and staging)",
        f"""WITH s AS (
              SELECT submission_id, reported_urn AS urn, academic_year{term_sel},
                     count(*) AS staging_rows
              FROM batch_rows GROUP BY ALL),
            u AS (
              SELECT submission_id, urn, academic_year, term, rows_loaded
              FROM audit.submission_units WHERE source = '{source}' AND is_current)
           SELECT u.submission_id, u.urn, u.academic_year, u.rows_loaded,
                  coalesce(s.staging_rows, 0) AS staging_rows
           FROM u FULL OUTER JOIN s ON u.submission_id = s.submission_id
             AND u.urn = s.urn AND u.academic_year = s.academic_year{term_join}
           WHERE coalesce(u.rows_loaded, -1) <> coalesce(s.staging_rows, 0)""")


def _current_units(source: str) -> dict[str, str]:
    """A staging suite reads only its own source's current submission units."""
    return {"audit.submission_units": f"source = '{source}' AND is_current"}


def _staging_common(source: str) -> list[dict[str, Any]]:
    return [
        *not_null(["submission_id", "row_number", "urn", "reported_urn", "academic_year"]),
        unique(["submission_id", "row_number"],
               "each loaded row (submission, spreadsheet row) appears once"),
        _academic_year_wellformed(),
        _in_register(),
        rows(
            "staging holds only rows of current submissions (superseded ones no longer count)",
            f"""SELECT t.submission_id, count(*) AS n FROM batch_rows t
                WHERE NOT EXISTS (SELECT 1 FROM audit.submission_units u
                  WHERE u.source = '{source}' AND u.is_current
                    AND u.submission_id = t.submission_id AND u.urn = t.reported_urn
                    AND u.academic_year = t.academic_year)
                GROUP BY t.submission_id"""),
    ]


def staging_suites() -> list[SuiteSpec]:
    outcomes = SuiteSpec(
        "stg_outcomes__pupil_years", "staging", "stg_outcomes__pupil_years", "staging",
        "Pupil outcome records of current submissions, as loaded.",
        [
            *_staging_common("outcomes"),
            *not_null(["pupil_id", "year_group", "sen_provision", "sessions_possible",
                       "sessions_attended", "base_sessions", "suspensions",
                       "permanently_excluded", "left_roll"]),
            unique(["urn", "academic_year", "pupil_id"],
                   "one record per pupil per school per academic year"),
            in_set("year_group", YEAR_GROUPS),
            in_set("sen_provision", SEN_PROVISION),
            in_set("primary_need", PRIMARY_NEED),
            in_set("first_identified_year_group", YEAR_GROUPS),
            in_set("leaving_reason", LEAVING_REASONS),
            in_set("destination", DESTINATIONS),
            between("sessions_possible", 0, 420),
            between("suspensions", 0, 50),
            between("base_sessions", 0, 420),
            not_more_than("sessions_attended", "sessions_possible"),
            not_more_than("base_sessions", "sessions_attended"),
            not_more_than("plan_targets_met", "plan_targets_set"),
            _in_a_group(),
            _rows_match_submission_log("outcomes"),
            rows(
                "primary need is given for pupils with SEN (K or E) and only for them",
                """SELECT submission_id, row_number, sen_provision, primary_need FROM batch_rows
                   WHERE (sen_provision IN ('K', 'E') AND primary_need IS NULL)
                      OR (sen_provision = 'N' AND primary_need IS NOT NULL)""",
                WARNING),
            rows(
                f"a school's attendance does not move by more than {YOY_JUMP_PP} percentage "
                "points from one academic year to the next (an implausible shift to look at)",
                f"""WITH y AS (
                      SELECT urn, academic_year,
                             100.0 * sum(sessions_attended) / nullif(sum(sessions_possible), 0)
                               AS attendance
                      FROM batch_rows GROUP BY urn, academic_year),
                    p AS (
                      SELECT urn, academic_year, attendance,
                             lag(attendance) OVER (PARTITION BY urn ORDER BY academic_year)
                               AS previous,
                             lag(academic_year) OVER (PARTITION BY urn ORDER BY academic_year)
                               AS previous_year
                      FROM y)
                   SELECT urn, previous_year, academic_year, round(previous, 1) AS previous,
                          round(attendance, 1) AS attendance
                   FROM p
                   WHERE previous IS NOT NULL
                     AND try_cast(substr(academic_year, 1, 4) AS INTEGER)
                         = try_cast(substr(previous_year, 1, 4) AS INTEGER) + 1
                     AND abs(attendance - previous) > {YOY_JUMP_PP}""",
                WARNING),
        ],
        narrow=_current_units("outcomes"),
    )
    voice = SuiteSpec(
        "stg_voice__responses", "staging", "stg_voice__responses", "staging",
        "Pupil and parent/carer survey responses of current submissions.",
        [
            *_staging_common("voice"),
            *not_null(["respondent_id", "respondent_type", "sen_provision", "year_group",
                       "question_code", "collected_on"]),
            unique(["urn", "academic_year", "respondent_id", "question_code"],
                   "one response per respondent per question per school and year"),
            in_set("respondent_type", RESPONDENT_TYPES),
            in_set("sen_provision", SEN_PROVISION),
            in_set("year_group", YEAR_GROUPS),
            between("response", 1, 5),
            rows(
                "every question code is in the question bank for that respondent type",
                """SELECT t.question_code, t.respondent_type, count(*) AS n FROM batch_rows t
                   WHERE NOT EXISTS (SELECT 1 FROM ref.question_bank q
                     WHERE q.question_code = t.question_code
                       AND q.respondent_type = t.respondent_type)
                   GROUP BY ALL"""),
            rows(
                "every response was collected within its academic year (1 September to 31 August)",
                """SELECT submission_id, row_number, academic_year, collected_on FROM batch_rows
                   WHERE collected_on < make_date(
                           try_cast(substr(academic_year, 1, 4) AS INTEGER), 9, 1)
                      OR collected_on > make_date(
                           try_cast(substr(academic_year, 1, 4) AS INTEGER) + 1, 8, 31)"""),
            _in_a_group(),
            _rows_match_submission_log("voice"),
        ],
        narrow=_current_units("voice"),
    )
    spend = SuiteSpec(
        "stg_spend__lines", "staging", "stg_spend__lines", "staging",
        "Inclusive Mainstream Fund spend lines of current submissions.",
        [
            *_staging_common("spend"),
            *not_null(["term", "category", "amount_gbp"]),
            in_set("term", TERMS),
            between("amount_gbp", 0, 1_000_000),
            rows(
                "every spend category is a code in the spend categories reference table",
                """SELECT t.category, count(*) AS n FROM batch_rows t
                   WHERE NOT EXISTS (SELECT 1 FROM ref.spend_categories c
                                     WHERE c.code = t.category)
                   GROUP BY t.category"""),
            rows(
                "spend per school and year equals the sum of its loaded lines "
                "(see audit.v_spend_reconciliation)",
                """SELECT * FROM audit.v_spend_reconciliation
                   WHERE loaded_lines_gbp IS DISTINCT FROM staging_gbp"""),
            _rows_match_submission_log("spend", with_term=True),
            rows(
                "spend in category 'other' has a description",
                """SELECT submission_id, row_number FROM batch_rows
                   WHERE category = 'other' AND coalesce(trim(description), '') = ''""",
                WARNING),
            _in_a_group(WARNING),
        ],
        narrow=_current_units("spend"),
    )
    allocations = SuiteSpec(
        "stg_allocations__allocations", "staging", "stg_allocations__allocations", "staging",
        "What each school was allocated, from current submissions.",
        [
            *_staging_common("allocations"),
            *not_null(["allocation_gbp"]),
            # Per school as reported: when schools merge, each predecessor's allocation
            # for the year counts towards the school that carries their history.
            unique(["reported_urn", "academic_year"],
                   "one allocation per school (as submitted) per academic year"),
            between("allocation_gbp", 0, 5_000_000),
            _rows_match_submission_log("allocations"),
        ],
        narrow=_current_units("allocations"),
    )
    return [outcomes, voice, spend, allocations]


def audit_suites() -> list[SuiteSpec]:
    return [SuiteSpec(
        "submission_log", "audit", "submission_log", "audit",
        "Every file received: loaded or refused, and where each row went.",
        [
            *not_null(["submission_id", "source", "file_name", "status"]),
            unique(["submission_id"], "each submission (file content) is logged once"),
            in_set("source", SOURCES),
            in_set("status", ["loaded", "refused"]),
            rows(
                "for every loaded submission, rows read = rows loaded + rows quarantined, "
                "and the warehouse holds exactly those rows (audit.v_submission_reconciliation)",
                """SELECT * FROM audit.v_submission_reconciliation WHERE NOT balanced"""),
            rows(
                "every refused file has a reason a school can act on",
                """SELECT submission_id, file_name FROM batch_rows
                   WHERE status = 'refused' AND coalesce(trim(reason), '') = ''"""),
        ],
    )]


def mart_suites() -> list[SuiteSpec]:
    fct_pupil_years = SuiteSpec(
        "fct_pupil_years", "marts", "fct_pupil_years", "marts",
        "One row per pupil per school per year: the facts outcome indicators count.",
        [
            *not_null(["submission_id", "row_number", "urn", "academic_year", "pupil_id"]),
            unique(["urn", "academic_year", "pupil_id"],
                   "one fact per pupil per school per academic year"),
            rows(
                "the mart holds exactly the staged outcome rows: none lost, none doubled "
                "by a join",
                SAME_ROWS_AS_STAGED),
        ],
    )
    fct_spend_lines = SuiteSpec(
        "fct_spend_lines", "marts", "fct_spend_lines", "marts",
        "Spend lines with their category layer, as used for spend context.",
        [
            *not_null(["submission_id", "row_number", "urn", "academic_year", "amount_gbp"]),
            unique(["submission_id", "row_number"], "each staged spend line appears once"),
            between("amount_gbp", 0, 1_000_000),
            rows(
                "spend per school and year in the mart equals the staged spend lines",
                """WITH f AS (SELECT urn, academic_year, sum(amount_gbp) AS gbp
                              FROM batch_rows GROUP BY ALL),
                        s AS (SELECT urn, academic_year, sum(amount_gbp) AS gbp
                              FROM staging.stg_spend__lines GROUP BY ALL)
                   SELECT coalesce(f.urn, s.urn) AS urn,
                          coalesce(f.academic_year, s.academic_year) AS academic_year,
                          f.gbp AS mart_gbp, s.gbp AS staging_gbp
                   FROM f FULL OUTER JOIN s
                     ON f.urn = s.urn AND f.academic_year = s.academic_year
                   WHERE f.gbp IS DISTINCT FROM s.gbp"""),
        ],
    )
    fct_allocations = SuiteSpec(
        "fct_allocations", "marts", "fct_allocations", "marts",
        "Allocations per school and year.",
        [
            *not_null(["submission_id", "urn", "academic_year"]),
            unique(["reported_urn", "academic_year"],
                   "one allocation per school (as submitted) per academic year"),
        ],
    )
    fct_respondent_domains = SuiteSpec(
        "fct_respondent_domains", "marts", "fct_respondent_domains", "marts",
        "One row per survey respondent per domain: the facts voice indicators count.",
        [*not_null(["submission_id", "urn", "academic_year"])],
    )
    dim_school_years = SuiteSpec(
        "dim_school_years", "marts", "dim_school_years", "marts",
        "Each school in each academic year, with its partnership group.",
        [
            *not_null(["urn", "academic_year"]),
            unique(["urn", "academic_year"], "each school appears once per academic year"),
        ],
    )
    return [fct_pupil_years, fct_spend_lines, fct_allocations, fct_respondent_domains,
            dim_school_years]


_NUMERIC = "try_cast(replace({col}, ',', '') AS DOUBLE)"


def _num(col: str) -> str:
    return _NUMERIC.replace("{col}", col)


def indicator_suites() -> list[SuiteSpec]:
    values = SuiteSpec(
        "indicator_values", "indicators", "indicator_values", "indicators",
        "Every outcome indicator before disclosure control (not published).",
        [
            *not_null(["level", "academic_year", "sen_breakdown", "indicator_id", "kind"]),
            unique(CELL_KEYS, "one value per indicator, level, area, year and SEN breakdown"),
            in_set("level", LEVELS),
            in_set("sen_breakdown", SEN_BREAKDOWNS),
            in_set("indicator_id", INDICATOR_IDS),
            in_set("kind", KINDS),
            between("numerator", 0, 1e12),
            not_more_than("numerator", "denominator"),
            between("value", 0, 100),
            rows(
                "each rate equals numerator / denominator x 100",
                """SELECT level, la_code, group_id, academic_year, sen_breakdown, indicator_id,
                          numerator, denominator, value FROM batch_rows
                   WHERE denominator > 0
                     AND abs(value - 100.0 * numerator / denominator) > 0.001"""),
            rows(
                "each confidence interval contains its value",
                """SELECT level, la_code, group_id, academic_year, sen_breakdown, indicator_id,
                          ci_lower, value, ci_upper FROM batch_rows
                   WHERE kind = 'person' AND value IS NOT NULL
                     AND (ci_lower > value + 1e-9 OR ci_upper < value - 1e-9)""",
                WARNING),
            rows(
                "the partnership groups of a local authority add up to it",
                """WITH g AS (
                      SELECT la_code, academic_year, sen_breakdown, indicator_id,
                             sum(numerator) AS numerator, sum(denominator) AS denominator
                      FROM batch_rows WHERE level = 'partnership_group' GROUP BY ALL)
                   SELECT l.la_code, l.academic_year, l.sen_breakdown, l.indicator_id,
                          l.numerator, g.numerator AS groups_numerator,
                          l.denominator, g.denominator AS groups_denominator
                   FROM batch_rows l JOIN g USING (la_code, academic_year, sen_breakdown,
                                                indicator_id)
                   WHERE l.level = 'local_authority'
                     AND (abs(l.numerator - g.numerator) > 1e-6
                          OR abs(l.denominator - g.denominator) > 1e-6)""",
                WARNING),
            rows(
                f"a partnership group's rate does not change by more than {YOY_JUMP_PP} "
                "percentage points from the previous year (an implausible shift to look at)",
                f"""SELECT level, la_code, group_id, academic_year, sen_breakdown, indicator_id,
                           value, change_pp FROM batch_rows
                    WHERE level = 'partnership_group' AND sen_breakdown = 'All pupils'
                      AND abs(change_pp) > {YOY_JUMP_PP}""",
                WARNING),
        ],
    )
    cell_cols = ("level, la_code, group_id, academic_year, sen_breakdown, indicator_id, kind, "
                 "numerator, denominator, value")
    published = SuiteSpec(
        "published_values", "indicators", "published_values", "indicators",
        "The outcome indicators as published, after disclosure control.",
        [
            *not_null(["level", "academic_year", "sen_breakdown", "indicator_id", "numerator",
                       "denominator", "value", "ci_lower", "ci_upper", "gap_pp", "change_pp"]),
            unique(CELL_KEYS, "one published value per indicator, level, area, year and "
                              "SEN breakdown"),
            in_set("level", LEVELS),
            in_set("sen_breakdown", SEN_BREAKDOWNS),
            in_set("indicator_id", INDICATOR_IDS),
            rows(
                "no published cell is blank: each holds a number or an EES symbol (c, z, x)",
                f"""SELECT {cell_cols} FROM batch_rows
                    WHERE EXISTS (SELECT 1 FROM (VALUES (numerator), (denominator), (value),
                        (ci_lower), (ci_upper), (gap_pp), (change_pp)) AS v(cell)
                      WHERE v.cell IS NULL OR (v.cell NOT IN ('c', 'z', 'x')
                                               AND {_num('v.cell')} IS NULL))"""),
            rows(
                "every published rate is between 0 and 100",
                f"""SELECT {cell_cols} FROM batch_rows
                    WHERE {_num('value')} < 0 OR {_num('value')} > 100
                       OR {_num('ci_lower')} < 0 OR {_num('ci_upper')} > 100"""),
            rows(
                "no published numerator exceeds its denominator",
                f"""SELECT {cell_cols} FROM batch_rows
                    WHERE {_num('numerator')} > {_num('denominator')}"""),
            rows(
                "no published person count reveals 1 or 2 children (numerator, or denominator "
                "minus numerator) — an independent re-check of disclosure control",
                f"""SELECT {cell_cols} FROM batch_rows
                    WHERE kind = 'person'
                      AND ({_num('numerator')} IN (1, 2)
                           OR {_num('denominator')} - {_num('numerator')} IN (1, 2))"""),
            rows(
                "every suppressed cell (c) has a recorded reason in audit.suppression",
                """SELECT p.level, p.la_code, p.group_id, p.academic_year, p.sen_breakdown,
                          p.indicator_id FROM batch_rows p
                   WHERE p.value = 'c' AND NOT EXISTS (
                     SELECT 1 FROM audit.suppression s
                     WHERE s.level = p.level AND s.la_code IS NOT DISTINCT FROM p.la_code
                       AND s.group_id IS NOT DISTINCT FROM p.group_id
                       AND s.academic_year = p.academic_year
                       AND s.sen_breakdown = p.sen_breakdown
                       AND s.indicator_id = p.indicator_id)"""),
            rows(
                "every published cell is an indicator value, and each unsuppressed rate is that "
                "value rounded to 1 decimal place (within half a unit of it, whichever way a "
                "tie such as 3.25 was rounded)",
                f"""SELECT p.level, p.la_code, p.group_id, p.academic_year, p.sen_breakdown,
                           p.indicator_id, p.value AS published, i.value AS computed
                    FROM batch_rows p LEFT JOIN indicators.indicator_values i
                      ON i.level = p.level AND i.la_code IS NOT DISTINCT FROM p.la_code
                     AND i.group_id IS NOT DISTINCT FROM p.group_id
                     AND i.academic_year = p.academic_year
                     AND i.sen_breakdown = p.sen_breakdown
                     AND i.indicator_id = p.indicator_id
                    WHERE i.indicator_id IS NULL
                       OR (p.value NOT IN ('c', 'z', 'x')
                           AND abs({_num('p.value')} - i.value) > 0.05 + 1e-9)"""),
        ],
    )
    return [values, published]


def all_suites() -> list[SuiteSpec]:
    """Every suite, in the order the flow runs (and Data Docs lists) them."""
    return [*audit_suites(), *staging_suites(), *mart_suites(), *indicator_suites()]


def suite_json(spec: SuiteSpec) -> dict[str, Any]:
    """The GX 1.x suite document, with ids derived from the names so output is stable."""
    expectations = []
    for i, exp in enumerate(spec.expectations):
        doc = {**exp, "id": str(uuid.uuid5(_NAMESPACE, f"{spec.name}/{i}/{exp['type']}"))}
        expectations.append(dict(sorted(doc.items())))
    return {
        "expectations": expectations,
        "id": str(uuid.uuid5(_NAMESPACE, spec.name)),
        "meta": {
            "great_expectations_version": GX_VERSION,
            "table": spec.qualified_table,
            "layer": spec.layer,
            "purpose": spec.purpose,
        },
        "name": spec.name,
        "notes": f"{spec.purpose} Generated by pipelines/audit/suite_specs.py.",
    }


def render(spec: SuiteSpec) -> str:
    return json.dumps(suite_json(spec), indent=2, ensure_ascii=False) + "\n"


def write_suites(directory: Path = SUITES_DIR) -> list[Path]:
    """Write every suite's JSON (the committed form) and remove suites no longer defined."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    names = set()
    for spec in all_suites():
        path = directory / f"{spec.name}.json"
        path.write_text(render(spec), encoding="utf-8")
        written.append(path)
        names.add(path.name)
    for stale in directory.glob("*.json"):
        if stale.name not in names:
            stale.unlink()
    return written


if __name__ == "__main__":
    for p in write_suites():
        print(p)
