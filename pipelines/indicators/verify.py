"""An independent re-check of the published table against the unsuppressed one.

Written in SQL on purpose, not by calling disclosure.py: a check that shares the code it
checks would share its mistakes. Each query returns the offending rows; the asset check
fails if any query returns anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

_KEY = ("level", "la_code", "group_id", "academic_year", "sen_breakdown", "indicator_id")


def _on(a: str, b: str) -> str:
    """Join condition on the cell key (la_code and group_id are NULL above group level)."""
    return " AND ".join(f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in _KEY)


_JOIN = _on("p", "v")
_COLUMNS = ("numerator", "denominator", "value", "ci_lower", "ci_upper", "gap_pp", "change_pp")

# `hidden` marks a published row whose value is suppressed; the equations below count them.
# A `z` row (not applicable: no such pupils by definition) is known to be zero, so it
# counts as published; the "not applicable" query checks it really is empty.
_JOINED = f"""
    SELECT v.*, p.value = 'c' AS hidden
    FROM indicators.published_values AS p
    JOIN indicators.indicator_values AS v ON {_JOIN}
"""


def _breakdown_equation(total: str, parts: tuple[str, ...]) -> str:
    members = ", ".join(f"'{b}'" for b in (total, *parts))
    # Wrapped in a subquery so several can be combined with UNION ALL.
    return f"""SELECT * FROM (
        WITH j AS ({_JOINED})
        SELECT level, la_code, group_id, academic_year, indicator_id,
               '{total} = {" + ".join(parts)}' AS equation
        FROM j
        WHERE sen_breakdown IN ({members})
        GROUP BY level, la_code, group_id, academic_year, indicator_id
        HAVING count(*) = {len(parts) + 1} AND count(*) FILTER (WHERE hidden) = 1
    )"""


_ALL, _ALL_SEN, _EHC, _SUPPORT, _NO_SEN = (
    "All pupils",
    "All SEN provision",
    "Education, health and care plan",
    "SEN support / SEN without an EHC plan",
    "No SEN provision",
)

_COUNT = r"^-?[0-9]+$"
_ONE_DP = r"^-?[0-9]+\.[0-9]$"

QUERIES: dict[str, str] = {
    "rows published differ from indicator_values": f"""
        SELECT 'missing from published' AS problem, v.level, v.la_code, v.group_id,
               v.academic_year, v.sen_breakdown, v.indicator_id
        FROM indicators.indicator_values AS v
        ANTI JOIN indicators.published_values AS p ON {_JOIN}
        UNION ALL
        SELECT 'not in indicator_values', p.level, p.la_code, p.group_id, p.academic_year,
               p.sen_breakdown, p.indicator_id
        FROM indicators.published_values AS p
        ANTI JOIN indicators.indicator_values AS v ON {_JOIN}
    """,
    "blank, NULL or malformed published values": f"""
        SELECT * FROM indicators.published_values
        WHERE {" OR ".join(f"{c} IS NULL OR trim({c}) = ''" for c in _COLUMNS)}
           OR NOT (numerator IN ('c', 'z', 'x') OR regexp_full_match(numerator, '{_COUNT}'))
           OR NOT (denominator IN ('c', 'z', 'x')
                   OR regexp_full_match(denominator, '{_COUNT}'))
           OR {
        " OR ".join(
            f"NOT ({c} IN ('c', 'z', 'x') OR regexp_full_match({c}, '{_ONE_DP}'))"
            for c in ("value", "ci_lower", "ci_upper", "gap_pp", "change_pp")
        )
    }
    """,
    "partly suppressed cells (one figure hidden, another shown)": """
        SELECT * FROM indicators.published_values
        WHERE (value = 'c') <> (numerator = 'c')
           OR (value = 'c') <> (denominator = 'c')
           OR (kind = 'person' AND (value = 'c') <> (ci_lower = 'c'))
           OR (kind = 'person' AND (value = 'c') <> (ci_upper = 'c'))
           OR (value = 'c' AND change_pp <> 'c' AND change_pp <> 'x')
           OR (value = 'c' AND gap_pp NOT IN ('c', 'z'))
           OR (kind <> 'person' AND (ci_lower <> 'z' OR ci_upper <> 'z'))
    """,
    "cells marked not applicable that hold pupils": f"""
        SELECT v.*
        FROM indicators.published_values AS p
        JOIN indicators.indicator_values AS v ON {_JOIN}
        WHERE p.value = 'z' AND (v.pupils <> 0 OR v.denominator <> 0 OR v.numerator <> 0)
    """,
    "published cells breaking the primary rule": f"""
        WITH j AS ({_JOINED}), p AS (SELECT * FROM indicators.published_values)
        SELECT j.* FROM j JOIN p ON {_on("p", "j")}
        WHERE NOT j.hidden AND p.value <> 'z' AND (
            (j.kind = 'person' AND (
                j.denominator < $threshold
                OR round(j.numerator) IN (1, 2)
                OR round(j.denominator - j.numerator) IN (1, 2)))
            OR (j.kind <> 'person' AND j.pupils < $threshold)
        )
    """,
    "breakdown equations with exactly one suppressed cell": " UNION ALL ".join(
        _breakdown_equation(total, parts)
        for total, parts in (
            (_ALL, (_NO_SEN, _SUPPORT, _EHC)),
            (_ALL_SEN, (_SUPPORT, _EHC)),
            (_ALL, (_NO_SEN, _ALL_SEN)),
        )
    ),
    "geography equations with exactly one suppressed cell": f"""
        WITH j AS ({_JOINED}),
        la_groups AS (
            SELECT la.la_code, la.academic_year, la.indicator_id, la.sen_breakdown,
                   la.hidden::INTEGER + count(*) FILTER (WHERE g.hidden) AS hidden_cells
            FROM j AS la
            JOIN j AS g ON g.level = 'partnership_group' AND g.la_code = la.la_code
                AND g.academic_year = la.academic_year AND g.indicator_id = la.indicator_id
                AND g.sen_breakdown = la.sen_breakdown
            WHERE la.level = 'local_authority'
            GROUP BY la.la_code, la.academic_year, la.indicator_id, la.sen_breakdown, la.hidden
        ),
        national_las AS (
            SELECT n.academic_year, n.indicator_id, n.sen_breakdown,
                   n.hidden::INTEGER + count(*) FILTER (WHERE l.hidden) AS hidden_cells
            FROM j AS n
            JOIN j AS l ON l.level = 'local_authority'
                AND l.academic_year = n.academic_year AND l.indicator_id = n.indicator_id
                AND l.sen_breakdown = n.sen_breakdown
            WHERE n.level = 'national'
            GROUP BY n.academic_year, n.indicator_id, n.sen_breakdown, n.hidden
        )
        SELECT 'local authority = its groups' AS equation, la_code, academic_year,
               indicator_id, sen_breakdown
        FROM la_groups WHERE hidden_cells = 1
        UNION ALL
        SELECT 'national = local authorities', NULL, academic_year, indicator_id,
               sen_breakdown
        FROM national_las WHERE hidden_cells = 1
    """,
    "gap or change shown although a value it uses is suppressed": f"""
        WITH j AS ({_JOINED}),
        p AS (
            SELECT j.*, pv.gap_pp AS published_gap, pv.change_pp AS published_change
            FROM j
            JOIN indicators.published_values AS pv ON {_on("pv", "j")}
        )
        SELECT p.level, p.la_code, p.group_id, p.academic_year, p.sen_breakdown,
               p.indicator_id, 'gap' AS figure
        FROM p JOIN j AS n
            ON n.sen_breakdown = 'No SEN provision' AND n.level = p.level
            AND n.la_code IS NOT DISTINCT FROM p.la_code
            AND n.group_id IS NOT DISTINCT FROM p.group_id
            AND n.academic_year = p.academic_year AND n.indicator_id = p.indicator_id
        WHERE p.sen_breakdown <> 'No SEN provision' AND n.hidden AND p.published_gap <> 'c'
        UNION ALL
        SELECT p.level, p.la_code, p.group_id, p.academic_year, p.sen_breakdown,
               p.indicator_id, 'change'
        FROM p JOIN j AS b
            ON b.level = p.level
            AND b.la_code IS NOT DISTINCT FROM p.la_code
            AND b.group_id IS NOT DISTINCT FROM p.group_id
            AND b.academic_year = (CAST(left(p.academic_year, 4) AS INTEGER) - 1)::VARCHAR
                || '/' || right(left(p.academic_year, 4), 2)
            AND b.sen_breakdown = p.sen_breakdown AND b.indicator_id = p.indicator_id
        WHERE b.hidden AND p.published_change <> 'c'
    """,
    "published values that differ from indicator_values": f"""
        SELECT p.*, v.value AS unrounded
        FROM indicators.published_values AS p
        JOIN indicators.indicator_values AS v ON {_JOIN}
        WHERE p.value NOT IN ('c', 'z', 'x')
          AND (v.value IS NULL OR abs(CAST(p.value AS DOUBLE) - v.value) > 0.05 + 1e-9)
    """,
}


@dataclass(frozen=True)
class Finding:
    problem: str
    count: int
    examples: list[str]


def verify_published(conn: duckdb.DuckDBPyConnection, threshold: int) -> list[Finding]:
    """Every way the published table breaks the disclosure rules (empty = safe)."""
    findings = []
    for problem, sql in QUERIES.items():
        params = {"threshold": threshold} if "$threshold" in sql else None
        cursor = conn.execute(sql, params) if params else conn.execute(sql)
        rows = cursor.fetchall()
        if rows:
            findings.append(Finding(problem, len(rows), [str(r) for r in rows[:5]]))
    return findings
