"""The audit's own warehouse objects, built in SQL so an auditor can read the rules:

- `audit.v_submission_reconciliation`: per submission, rows read = loaded + quarantined,
  and the warehouse really holds those rows (raw rows, quarantined rows recorded).
- `audit.v_spend_reconciliation`: per school and year, the spend staged equals the sum of
  the spend lines loaded from its current submissions.
- `audit.lineage`: every published cell and the submissions whose rows it was computed
  from (with the number of rows each contributed).

They are created by a write connection *before* GX opens its read-only one. An object
whose input tables do not exist yet is skipped and reported, not faked.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

RAW_SOURCES = ("spend", "allocations", "outcomes", "voice")

# Which outcome rows each indicator is computed from: its denominator population as
# defined in design/indicators.md. A cell's lineage is the submissions of those rows.
OUTCOME_POPULATIONS: dict[str, str] = {
    "persistent_absence_percent": "sessions_possible > 0",
    "suspended_percent": "TRUE",
    "permanently_excluded_percent": "TRUE",
    "unexplained_leaver_percent": "TRUE",
    "base_majority_percent": "base_sessions > 0",
    "plan_reviewed_percent": "sen_provision IN ('K', 'E')",
    "early_identified_percent":
        "sen_provision IN ('K', 'E') AND year_group NOT IN ('N1', 'N2', 'R', '1', '2')",
    "sustained_destination_percent":
        "left_roll AND leaving_reason = 'end_of_phase' "
        "AND year_group IN ('11', '12', '13', '14')",
    "expected_standard_percent": "met_expected_standard IS NOT NULL",
    "attendance_percent": "sessions_possible > 0",
    "mainstream_time_percent": "base_sessions > 0",
    "plan_targets_met_percent":
        "sen_provision IN ('K', 'E') AND coalesce(plan_targets_set, 0) > 0",
}

SEN_MAP = [
    ("All pupils", "N"), ("All pupils", "K"), ("All pupils", "E"),
    ("All SEN provision", "K"), ("All SEN provision", "E"),
    ("Education, health and care plan", "E"),
    ("SEN support / SEN without an EHC plan", "K"),
    ("No SEN provision", "N"),
]

# A school's partnership group in a year: the membership in force that year
# ('YYYY/YY' strings sort in year order).
_IN_FORCE = ("m.urn = t.urn AND m.from_year <= t.academic_year "
             "AND (m.to_year IS NULL OR m.to_year >= t.academic_year)")


def submission_reconciliation_sql(raw_sources: tuple[str, ...] = RAW_SOURCES) -> str:
    raw = "\n  UNION ALL ".join(
        f"SELECT '{s}' AS source, submission_id, count(*) AS n FROM raw.{s} GROUP BY ALL"
        for s in raw_sources)
    return f"""
CREATE OR REPLACE VIEW audit.v_submission_reconciliation AS
WITH raw_rows AS (
  {raw}),
quarantined AS (
  SELECT source, submission_id, count(DISTINCT row_number) AS n
  FROM audit.quarantine_rows GROUP BY ALL)
SELECT l.submission_id, l.source, l.file_name, l.status,
       l.rows_read, l.rows_loaded, l.rows_quarantined,
       coalesce(r.n, 0) AS rows_in_warehouse,
       coalesce(q.n, 0) AS quarantined_rows_recorded,
       CASE WHEN l.status = 'loaded' THEN
              coalesce(l.rows_read = l.rows_loaded + l.rows_quarantined, FALSE)
              AND coalesce(r.n, 0) = l.rows_loaded
              AND coalesce(q.n, 0) = l.rows_quarantined
            ELSE coalesce(r.n, 0) = 0
       END AS balanced
FROM audit.submission_log l
LEFT JOIN raw_rows r ON r.submission_id = l.submission_id AND r.source = l.source
LEFT JOIN quarantined q ON q.submission_id = l.submission_id AND q.source = l.source
"""


SPEND_RECONCILIATION_SQL = """
CREATE OR REPLACE VIEW audit.v_spend_reconciliation AS
WITH loaded AS (
  SELECT coalesce(c.current_urn, r.urn) AS urn, r.academic_year,
         count(*) AS loaded_lines, sum(r.amount_gbp) AS loaded_lines_gbp
  FROM raw.spend r
  JOIN audit.submission_units u
    ON u.source = 'spend' AND u.is_current AND u.submission_id = r.submission_id
   AND u.urn = r.urn AND u.academic_year = r.academic_year
   AND u.term IS NOT DISTINCT FROM r.term
  LEFT JOIN ref.urn_current c ON c.urn = r.urn
  GROUP BY ALL),
staged AS (
  SELECT urn, academic_year, count(*) AS staging_lines, sum(amount_gbp) AS staging_gbp
  FROM staging.stg_spend__lines GROUP BY ALL)
SELECT coalesce(l.urn, s.urn) AS urn,
       coalesce(l.academic_year, s.academic_year) AS academic_year,
       l.loaded_lines, l.loaded_lines_gbp, s.staging_lines, s.staging_gbp,
       l.loaded_lines_gbp IS NOT DISTINCT FROM s.staging_gbp AS matches
FROM loaded l FULL OUTER JOIN staged s
  ON l.urn = s.urn AND l.academic_year = s.academic_year
"""


def lineage_sql() -> str:
    # Rows are counted per submission, school, year and SEN provision first (one pass over
    # each staging table, one count per indicator), and only those counts are placed in
    # groups and cells: the same numbers as placing every row, without joining millions
    # of rows (outcome rows once per indicator) to the memberships. At la scale: ~4 s to
    # well under 1 s, for the same table.
    counts = ",\n         ".join(
        f'count(*) FILTER (WHERE {pred}) AS "{ind}"'
        for ind, pred in OUTCOME_POPULATIONS.items())
    indicators = ", ".join(f'"{ind}"' for ind in OUTCOME_POPULATIONS)
    sen_map = ", ".join(f"('{b}', '{p}')" for b, p in SEN_MAP)
    return f"""
CREATE OR REPLACE TABLE audit.lineage AS
WITH outcome_counts AS (
  SELECT t.submission_id, t.urn, t.academic_year, t.sen_provision,
         {counts}
  FROM staging.stg_outcomes__pupil_years t
  GROUP BY ALL),
outcome_contrib AS (
  SELECT indicator_id, 'outcomes' AS source, submission_id, urn, academic_year,
         sen_provision, n
  FROM outcome_counts UNPIVOT (n FOR indicator_id IN ({indicators}))
  WHERE n > 0),
voice_contrib AS (
  SELECT q.domain || '_percent' AS indicator_id, 'voice' AS source, t.submission_id,
         t.urn, t.academic_year, t.sen_provision, count(*) AS n
  FROM staging.stg_voice__responses t
  JOIN ref.question_bank q
    ON q.question_code = t.question_code AND q.respondent_type = t.respondent_type
  WHERE t.response IS NOT NULL
  GROUP BY ALL),
contrib AS (
  SELECT indicator_id, source, submission_id, urn, academic_year, sen_provision, n
  FROM outcome_contrib
  UNION ALL
  SELECT indicator_id, source, submission_id, urn, academic_year, sen_provision, n
  FROM voice_contrib),
placed AS (
  SELECT t.*, m.group_id, g.la_code AS group_la_code
  FROM contrib t
  LEFT JOIN ref.group_membership m ON {_IN_FORCE}
  LEFT JOIN ref.partnership_groups g ON g.group_id = m.group_id),
sen_map(sen_breakdown, sen_provision) AS (VALUES {sen_map}),
cells AS (
  SELECT 'partnership_group' AS level, group_la_code AS la_code, group_id, academic_year,
         sen_provision, indicator_id, source, submission_id, n
  FROM placed WHERE group_id IS NOT NULL
  UNION ALL
  SELECT 'local_authority', group_la_code, NULL, academic_year, sen_provision,
         indicator_id, source, submission_id, n
  FROM placed WHERE group_id IS NOT NULL
  UNION ALL
  SELECT 'national', NULL, NULL, academic_year, sen_provision, indicator_id, source,
         submission_id, n
  FROM placed),
per_cell AS (
  SELECT c.level, c.la_code, c.group_id, c.academic_year, sm.sen_breakdown, c.indicator_id,
         c.source, c.submission_id, sum(c.n)::BIGINT AS contributing_rows
  FROM cells c JOIN sen_map sm ON sm.sen_provision = c.sen_provision
  GROUP BY ALL)
SELECT p.level, p.la_code, p.group_id, p.academic_year, p.sen_breakdown, p.indicator_id,
       c.source, c.submission_id, l.file_name, c.contributing_rows
FROM indicators.published_values p
LEFT JOIN per_cell c
  ON c.level = p.level AND c.la_code IS NOT DISTINCT FROM p.la_code
 AND c.group_id IS NOT DISTINCT FROM p.group_id AND c.academic_year = p.academic_year
 AND c.sen_breakdown = p.sen_breakdown AND c.indicator_id = p.indicator_id
LEFT JOIN audit.submission_log l ON l.submission_id = c.submission_id
ORDER BY ALL
"""


@dataclass(frozen=True)
class ObjectStatus:
    name: str
    built: bool
    note: str


OBJECT_INPUTS: dict[str, tuple[str, ...]] = {
    "audit.v_submission_reconciliation": (
        "audit.submission_log", "audit.quarantine_rows", *(f"raw.{s}" for s in RAW_SOURCES)),
    "audit.v_spend_reconciliation": (
        "raw.spend", "audit.submission_units", "ref.urn_current", "staging.stg_spend__lines"),
    "audit.lineage": (
        "staging.stg_outcomes__pupil_years", "staging.stg_voice__responses",
        "ref.question_bank", "ref.group_membership", "ref.partnership_groups",
        "indicators.published_values", "audit.submission_log"),
}


def existing_tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    rows = conn.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database()").fetchall()
    return {r[0] for r in rows}


def object_statements() -> dict[str, str]:
    """The statement that builds each audit object, by name (keys of OBJECT_INPUTS)."""
    return {
        "audit.v_submission_reconciliation": submission_reconciliation_sql(),
        "audit.v_spend_reconciliation": SPEND_RECONCILIATION_SQL,
        "audit.lineage": lineage_sql(),
    }


def build_audit_objects(conn: duckdb.DuckDBPyConnection) -> list[ObjectStatus]:
    """Create (or replace) the audit views and the lineage table; report what was skipped."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS audit")
    present = existing_tables(conn)
    statuses = []
    for name, sql in object_statements().items():
        missing = [t for t in OBJECT_INPUTS[name] if t not in present]
        if missing:
            statuses.append(ObjectStatus(name, False, "not built: missing " + ", ".join(missing)))
            continue
        conn.execute(sql)
        statuses.append(ObjectStatus(name, True, "built"))
    return statuses
