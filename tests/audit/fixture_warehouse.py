"""A small warehouse with the docs/warehouse.md schemas, whose every number a person can
check by hand, for the audit tests (the real SQL models may not exist yet).

Local authority 201 with two partnership groups and three schools over two years:

| school | 2023/24 group | 2024/25 group | notes |
|---|---|---|---|
| 100001 | 201-01 | 201-01 | 2024/25 outcomes resubmitted: `out-100001-2425-a` superseded by `-b` |
| 100002 | 201-02 | 201-01 | moves group in 2024/25 |
| 100003 | 201-02 | 201-02 | its 2023/24 outcomes were submitted under its predecessor URN 100004 |

Each school-year has 12 pupils (2 EHC plan, 3 SEN support, 7 no SEN), 10 pupil survey
respondents, 3 spend lines (one per term) and one allocation. So the published cell
(suspended_percent, partnership_group 201-01, 2024/25, EHC plan) was computed from
exactly the submissions `out-100001-2425-b` and `out-100002-2425`.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
YEARS = ("2023/24", "2024/25")
SCHOOLS = (100001, 100002, 100003)

DDL = """
CREATE SCHEMA ref; CREATE SCHEMA raw; CREATE SCHEMA audit; CREATE SCHEMA staging;
CREATE SCHEMA intermediate; CREATE SCHEMA marts; CREATE SCHEMA indicators;
CREATE TABLE ref.schools(urn BIGINT, laestab BIGINT, la_code VARCHAR, new_la_code VARCHAR,
  la_name VARCHAR, region_code VARCHAR, region_name VARCHAR, school_name VARCHAR,
  phase VARCHAR, establishment_type VARCHAR, is_mainstream BOOLEAN, trust VARCHAR,
  district_code VARCHAR, ward_code VARCHAR, headcount_pupils BIGINT);
CREATE TABLE ref.urn_current(urn BIGINT, current_urn BIGINT);
CREATE TABLE ref.partnership_groups(group_id VARCHAR, group_name VARCHAR, la_code VARCHAR,
  district_code VARCHAR);
CREATE TABLE ref.group_membership(urn BIGINT, group_id VARCHAR, from_year VARCHAR,
  to_year VARCHAR);
CREATE TABLE ref.spend_categories AS
  SELECT * FROM read_csv('{seeds}/spend_categories.csv', all_varchar = true);
CREATE TABLE ref.question_bank AS
  SELECT question_code, respondent_type, domain, text, reverse_scored::BOOLEAN AS reverse_scored
  FROM read_csv('{seeds}/question_bank.csv', all_varchar = true);

CREATE TABLE raw.outcomes(submission_id VARCHAR, row_number INTEGER, urn BIGINT,
  academic_year VARCHAR, pupil_id VARCHAR, year_group VARCHAR, sen_provision VARCHAR,
  primary_need VARCHAR, first_identified_year_group VARCHAR, sessions_possible INTEGER,
  sessions_attended INTEGER, base_sessions INTEGER, suspensions INTEGER,
  permanently_excluded BOOLEAN, plan_targets_set INTEGER, plan_targets_met INTEGER,
  plan_reviewed_on DATE, left_roll BOOLEAN, leaving_reason VARCHAR, destination VARCHAR,
  destination_sustained BOOLEAN, met_expected_standard BOOLEAN);
CREATE TABLE raw.voice(submission_id VARCHAR, row_number INTEGER, urn BIGINT,
  academic_year VARCHAR, respondent_id VARCHAR, respondent_type VARCHAR,
  sen_provision VARCHAR, year_group VARCHAR, question_code VARCHAR, response SMALLINT,
  collected_on DATE);
CREATE TABLE raw.spend(submission_id VARCHAR, row_number INTEGER, urn BIGINT,
  academic_year VARCHAR, term VARCHAR, category VARCHAR, amount_gbp DECIMAL(12,2),
  description VARCHAR);
CREATE TABLE raw.allocations(submission_id VARCHAR, row_number INTEGER, urn BIGINT,
  academic_year VARCHAR, allocation_gbp DECIMAL(12,2));

CREATE TABLE audit.submission_log(submission_id VARCHAR, source VARCHAR, file_name VARCHAR,
  landing_path VARCHAR, file_mtime TIMESTAMP, received_at TIMESTAMP, file_format VARCHAR,
  encoding VARCHAR, status VARCHAR, reason VARCHAR, rows_read BIGINT, rows_loaded BIGINT,
  rows_quarantined BIGINT, extra_columns VARCHAR[]);
CREATE TABLE audit.submission_units(source VARCHAR, submission_id VARCHAR, urn BIGINT,
  academic_year VARCHAR, term VARCHAR, rows_loaded BIGINT, is_current BOOLEAN,
  superseded_by VARCHAR);
CREATE TABLE audit.quarantine(submission_id VARCHAR, source VARCHAR, row_number INTEGER,
  column_name VARCHAR, rule VARCHAR, value VARCHAR);
CREATE TABLE audit.quarantine_rows(submission_id VARCHAR, source VARCHAR,
  row_number INTEGER, row_json VARCHAR);
CREATE TABLE audit.suppression(level VARCHAR, la_code VARCHAR, group_id VARCHAR,
  academic_year VARCHAR, sen_breakdown VARCHAR, indicator_id VARCHAR, rule VARCHAR,
  detail VARCHAR);
"""

REFERENCE = """
INSERT INTO ref.schools VALUES
 (100001, 2012001, '201', 'E09000001', 'City of London', 'E12000007', 'London',
  'Alpha Primary', 'Primary', 'Community school', TRUE, NULL, 'E09000001', 'W1', 300),
 (100002, 2012002, '201', 'E09000001', 'City of London', 'E12000007', 'London',
  'Beta Primary', 'Primary', 'Academy converter', TRUE, 'Trust A', 'E09000001', 'W2', 250),
 (100003, 2012003, '201', 'E09000001', 'City of London', 'E12000007', 'London',
  'Gamma Academy', 'Primary', 'Academy converter', TRUE, 'Trust A', 'E09000001', 'W3', 200),
 (100004, 2012004, '201', 'E09000001', 'City of London', 'E12000007', 'London',
  'Gamma Primary (closed)', 'Primary', 'Community school', TRUE, NULL, 'E09000001', 'W3',
  0);
INSERT INTO ref.urn_current VALUES (100001, 100001), (100002, 100002), (100003, 100003),
  (100004, 100003);
INSERT INTO ref.partnership_groups VALUES
  ('201-01', 'City of London partnership group 1', '201', 'E09000001'),
  ('201-02', 'City of London partnership group 2', '201', 'E09000001');
INSERT INTO ref.group_membership VALUES
  (100001, '201-01', '2020/21', NULL),
  (100002, '201-02', '2020/21', '2023/24'),
  (100002, '201-01', '2024/25', NULL),
  (100003, '201-02', '2020/21', NULL);
"""


def _sub(source: str, urn: int, year: str, suffix: str = "") -> str:
    short = {"outcomes": "out", "voice": "voi", "spend": "spe"}[source]
    return f"{short}-{urn}-{year[2:4]}{year[5:7]}{suffix}"


def _submissions() -> list[tuple[str, str, int, str, bool, str | None]]:
    """(submission_id, source, reported urn, year, is_current, superseded_by)."""
    subs: list[tuple[str, str, int, str, bool, str | None]] = []
    for year in YEARS:
        for urn in SCHOOLS:
            reported = 100004 if (urn == 100003 and year == "2023/24") else urn
            if urn == 100001 and year == "2024/25":
                a, b = _sub("outcomes", urn, year, "-a"), _sub("outcomes", urn, year, "-b")
                subs.append((a, "outcomes", reported, year, False, b))
                subs.append((b, "outcomes", reported, year, True, None))
            else:
                subs.append((_sub("outcomes", urn, year), "outcomes", reported, year, True,
                             None))
            subs.append((_sub("voice", urn, year), "voice", urn, year, True, None))
            subs.append((_sub("spend", urn, year), "spend", urn, year, True, None))
    return subs


def _load_raw(conn: duckdb.DuckDBPyConnection) -> None:
    for sub, source, urn, year, _current, _ in _submissions():
        y0 = int(year[:4])
        if source == "outcomes":
            # Pupils 0-1 EHC plan, 2-4 SEN support, 5-11 no SEN; pupil 3 suspended once.
            # Row numbers start at 2 (header = 1); -b skips row 14 (quarantined).
            conn.execute(
                f"""INSERT INTO raw.outcomes SELECT
                  '{sub}', 2 + i, {urn}, '{year}', 'pupil-' || {urn % 1000} || '-' || i,
                  '5', CASE WHEN i < 2 THEN 'E' WHEN i < 5 THEN 'K' ELSE 'N' END,
                  CASE WHEN i < 5 THEN 'SEMH' END, CASE WHEN i < 5 THEN 'R' END,
                  300, 300 - 5 * i, CASE WHEN i = 2 THEN 20 ELSE 0 END,
                  CASE WHEN i = 3 THEN 1 ELSE 0 END, FALSE,
                  CASE WHEN i < 5 THEN 4 END, CASE WHEN i < 5 THEN 2 END,
                  CASE WHEN i < 5 THEN DATE '{y0 + 1}-03-01' END, FALSE, NULL, NULL, NULL,
                  NULL
                FROM range(12) t(i)""")
        elif source == "voice":
            conn.execute(
                f"""INSERT INTO raw.voice SELECT
                  '{sub}', 2 + 2 * r + q, {urn}, '{year}', 'resp-' || {urn % 1000} || '-' || r,
                  'pupil', CASE WHEN r < 2 THEN 'E' WHEN r < 4 THEN 'K' ELSE 'N' END, '5',
                  'P_BEL_' || (q + 1), CASE WHEN r < 7 THEN 4 ELSE 2 END,
                  DATE '{y0 + 1}-02-01'
                FROM range(10) a(r), range(2) b(q)""")
        else:
            conn.execute(
                f"""INSERT INTO raw.spend VALUES
                  ('{sub}', 2, {urn}, '{year}', 'autumn', 'staff_development', 1000.00, NULL),
                  ('{sub}', 3, {urn}, '{year}', 'spring', 'small_group_intervention', 2500.50,
                   NULL),
                  ('{sub}', 4, {urn}, '{year}', 'summer', 'other', 99.99, 'Ear defenders')""")
    for year in YEARS:
        sub = f"all-{year[2:4]}{year[5:7]}"
        conn.execute(f"""INSERT INTO raw.allocations VALUES
          ('{sub}', 2, 100001, '{year}', 20000), ('{sub}', 3, 100002, '{year}', 15000),
          ('{sub}', 4, {100004 if year == '2023/24' else 100003}, '{year}', 12000)""")


def _load_audit(conn: duckdb.DuckDBPyConnection) -> None:
    for sub, source, urn, year, current, superseded in _submissions():
        terms = ["autumn", "spring", "summer"] if source == "spend" else [None]
        for term in terms:
            conn.execute(
                f"""INSERT INTO audit.submission_units
                    SELECT ?, ?, ?, ?, ?, count(*), ?, ? FROM raw.{source}
                    WHERE submission_id = ? AND term IS NOT DISTINCT FROM ?"""
                if source == "spend" else
                f"""INSERT INTO audit.submission_units
                    SELECT ?, ?, ?, ?, ?, count(*), ?, ? FROM raw.{source}
                    WHERE submission_id = ? AND ? IS NULL""",
                [source, sub, urn, year, term, current, superseded, sub, term])
    for year in YEARS:
        sub = f"all-{year[2:4]}{year[5:7]}"
        conn.execute("""INSERT INTO audit.submission_units
            SELECT 'allocations', submission_id, urn, academic_year, NULL, 1, TRUE, NULL
            FROM raw.allocations WHERE submission_id = ?""", [sub])
    # One quarantined outcome row in out-100001-2425-b (row 14), one refused file.
    conn.execute("""INSERT INTO audit.quarantine VALUES
      ('out-100001-2425-b', 'outcomes', 14, 'sessions_attended', 'attended <= possible',
       '400')""")
    conn.execute("""INSERT INTO audit.quarantine_rows VALUES
      ('out-100001-2425-b', 'outcomes', 14, '{"urn": "100001", "upn": "pseudo:ab12"}')""")
    conn.execute(
        """INSERT INTO audit.submission_log
           SELECT submission_id, any_value(source),
                  any_value(source) || '/' || submission_id || '.csv',
                  'landing/' || any_value(source) || '/' || submission_id || '.csv',
                  TIMESTAMP '2025-07-01', TIMESTAMP '2025-07-02', 'csv', 'utf-8', 'loaded',
                  NULL, sum(rows_loaded), sum(rows_loaded), 0, []
           FROM audit.submission_units GROUP BY submission_id""")
    conn.execute("""UPDATE audit.submission_log SET rows_read = rows_read + 1,
                    rows_quarantined = 1 WHERE submission_id = 'out-100001-2425-b'""")
    conn.execute("""INSERT INTO audit.submission_log VALUES
      ('refused-1', 'spend', 'spend/bad.csv', 'landing/spend/bad.csv', TIMESTAMP '2025-07-01',
       TIMESTAMP '2025-07-02', 'csv', NULL, 'refused', 'the column "amount_gbp" is missing',
       0, 0, 0, [])""")


STAGING = """
CREATE TABLE staging.{table} AS
SELECT r.submission_id, r.row_number, c.current_urn AS urn, r.urn AS reported_urn,
       r.* EXCLUDE (submission_id, row_number, urn)
FROM raw.{source} r
JOIN audit.submission_units u ON u.source = '{source}' AND u.is_current
  AND u.submission_id = r.submission_id AND u.urn = r.urn
  AND u.academic_year = r.academic_year {term}
JOIN ref.urn_current c ON c.urn = r.urn
"""

MARTS = """
CREATE TABLE intermediate.int_school_groups_resolved AS
SELECT s.urn, y.academic_year, m.group_id, g.la_code
FROM ref.schools s CROSS JOIN (VALUES ('2023/24'), ('2024/25')) y(academic_year)
JOIN ref.group_membership m ON m.urn = s.urn AND m.from_year <= y.academic_year
  AND (m.to_year IS NULL OR m.to_year >= y.academic_year)
JOIN ref.partnership_groups g USING (group_id);
CREATE TABLE marts.dim_school_years AS SELECT * FROM intermediate.int_school_groups_resolved;
CREATE TABLE marts.fct_pupil_years AS
SELECT o.*, d.group_id, d.la_code FROM staging.stg_outcomes__pupil_years o
LEFT JOIN marts.dim_school_years d USING (urn, academic_year);
CREATE TABLE marts.fct_spend_lines AS
SELECT s.*, c.layer FROM staging.stg_spend__lines s
JOIN ref.spend_categories c ON c.code = s.category;
CREATE TABLE marts.fct_allocations AS SELECT * FROM staging.stg_allocations__allocations;
CREATE TABLE marts.fct_respondent_domains AS
SELECT any_value(v.submission_id) AS submission_id, v.urn, v.academic_year, v.respondent_id,
       v.respondent_type, any_value(v.sen_provision) AS sen_provision, q.domain,
       avg(v.response) AS mean_score
FROM staging.stg_voice__responses v
JOIN ref.question_bank q USING (question_code, respondent_type)
WHERE v.response IS NOT NULL GROUP BY v.urn, v.academic_year, v.respondent_id,
  v.respondent_type, q.domain;
"""

# Three indicators (two person-level, one weighted) computed the plain way, rolled up
# to the five SEN breakdowns and three levels, then a simple primary disclosure control.
INDICATORS = """
CREATE TABLE indicators.base AS
SELECT 'suspended_percent' AS indicator_id, 'person' AS kind, la_code, group_id,
       academic_year, sen_provision, sum((suspensions >= 1)::INT)::DOUBLE AS numerator,
       count(*)::DOUBLE AS denominator
FROM marts.fct_pupil_years GROUP BY ALL
UNION ALL
SELECT 'attendance_percent', 'weighted', la_code, group_id, academic_year, sen_provision,
       sum(sessions_attended), sum(sessions_possible)
FROM marts.fct_pupil_years WHERE sessions_possible > 0 GROUP BY ALL
UNION ALL
SELECT 'belonging_percent', 'person', d.la_code, d.group_id, f.academic_year,
       f.sen_provision, sum((f.mean_score >= 4)::INT), count(*)
FROM marts.fct_respondent_domains f JOIN marts.dim_school_years d USING (urn, academic_year)
WHERE f.domain = 'belonging' AND f.respondent_type = 'pupil' GROUP BY ALL;

CREATE TABLE indicators.indicator_values AS
WITH sen_map(sen_breakdown, sen_provision) AS (VALUES
  ('All pupils', 'N'), ('All pupils', 'K'), ('All pupils', 'E'),
  ('All SEN provision', 'K'), ('All SEN provision', 'E'),
  ('Education, health and care plan', 'E'),
  ('SEN support / SEN without an EHC plan', 'K'), ('No SEN provision', 'N')),
levels AS (
  SELECT 'partnership_group' AS level, la_code, group_id, b.* EXCLUDE (la_code, group_id)
  FROM indicators.base b
  UNION ALL SELECT 'local_authority', la_code, NULL, b.* EXCLUDE (la_code, group_id)
  FROM indicators.base b
  UNION ALL SELECT 'national', NULL, NULL, b.* EXCLUDE (la_code, group_id)
  FROM indicators.base b),
cells AS (
  SELECT level, la_code, group_id, academic_year, sm.sen_breakdown, indicator_id, kind,
         sum(numerator) AS numerator, sum(denominator) AS denominator
  FROM levels JOIN sen_map sm USING (sen_provision) GROUP BY ALL),
valued AS (
  SELECT *, 100.0 * numerator / denominator AS value FROM cells)
SELECT v.level, v.la_code, v.group_id, v.academic_year, v.sen_breakdown, v.indicator_id,
       v.kind, v.numerator, v.denominator, v.denominator::BIGINT AS pupils, v.value,
       CASE WHEN v.kind = 'person' THEN greatest(v.value - 5, 0) END AS ci_lower,
       CASE WHEN v.kind = 'person' THEN least(v.value + 5, 100) END AS ci_upper,
       v.value - n.value AS gap_pp,
       v.value - lag(v.value) OVER (PARTITION BY v.level, v.la_code, v.group_id,
         v.sen_breakdown, v.indicator_id ORDER BY v.academic_year) AS change_pp
FROM valued v LEFT JOIN valued n ON n.sen_breakdown = 'No SEN provision'
  AND n.level = v.level AND n.la_code IS NOT DISTINCT FROM v.la_code
  AND n.group_id IS NOT DISTINCT FROM v.group_id AND n.academic_year = v.academic_year
  AND n.indicator_id = v.indicator_id;

INSERT INTO audit.suppression
SELECT level, la_code, group_id, academic_year, sen_breakdown, indicator_id,
       CASE WHEN denominator < 10 THEN 'primary_threshold'
            WHEN numerator IN (1, 2) THEN 'primary_numerator'
            ELSE 'primary_complement' END AS rule,
       'numerator ' || numerator || ', denominator ' || denominator AS detail
FROM indicators.indicator_values
WHERE kind = 'person' AND (denominator < 10 OR numerator IN (1, 2)
                           OR denominator - numerator IN (1, 2));

CREATE TABLE indicators.published_values AS
SELECT i.level, i.la_code, i.group_id, i.academic_year, i.sen_breakdown, i.indicator_id,
       i.kind,
       CASE WHEN s.rule IS NOT NULL THEN 'c' ELSE printf('%.0f', i.numerator) END AS numerator,
       CASE WHEN s.rule IS NOT NULL THEN 'c' ELSE printf('%.0f', i.denominator) END
         AS denominator,
       CASE WHEN s.rule IS NOT NULL THEN 'c' ELSE printf('%.1f', i.value) END AS value,
       CASE WHEN i.kind = 'weighted' THEN 'z' WHEN s.rule IS NOT NULL THEN 'c'
            ELSE printf('%.1f', i.ci_lower) END AS ci_lower,
       CASE WHEN i.kind = 'weighted' THEN 'z' WHEN s.rule IS NOT NULL THEN 'c'
            ELSE printf('%.1f', i.ci_upper) END AS ci_upper,
       CASE WHEN i.sen_breakdown = 'No SEN provision' THEN 'z'
            WHEN s.rule IS NOT NULL THEN 'c' ELSE printf('%.1f', i.gap_pp) END AS gap_pp,
       CASE WHEN i.change_pp IS NULL THEN 'x' WHEN s.rule IS NOT NULL THEN 'c'
            ELSE printf('%.1f', i.change_pp) END AS change_pp
FROM indicators.indicator_values i
LEFT JOIN audit.suppression s ON s.level = i.level
  AND s.la_code IS NOT DISTINCT FROM i.la_code AND s.group_id IS NOT DISTINCT FROM i.group_id
  AND s.academic_year = i.academic_year AND s.sen_breakdown = i.sen_breakdown
  AND s.indicator_id = i.indicator_id;
DROP TABLE indicators.base;
"""


def build_clean_warehouse(path: Path) -> Path:
    """Create the fixture warehouse at `path` (which must not exist)."""
    with duckdb.connect(str(path)) as conn:
        conn.execute(DDL.replace("{seeds}", str(SEEDS)))
        conn.execute(REFERENCE)
        _load_raw(conn)
        _load_audit(conn)
        for source, table in (("outcomes", "stg_outcomes__pupil_years"),
                              ("voice", "stg_voice__responses"),
                              ("spend", "stg_spend__lines"),
                              ("allocations", "stg_allocations__allocations")):
            term = "AND u.term IS NOT DISTINCT FROM r.term" if source == "spend" else ""
            conn.execute(STAGING.format(table=table, source=source, term=term))
        conn.execute(MARTS)
        conn.execute(INDICATORS)
    return path
