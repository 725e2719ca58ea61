"""Resubmission: per unit (source, urn, academic_year[, term]) the latest submission counts.

"Latest" is the later file modification time, ties broken by file name (then submission
id, so the order is total). Earlier submissions' rows stay in `raw`; their units get
`is_current = FALSE` and `superseded_by` = the next submission for that unit.

New submissions can only change the ranking of the units they cover, so after each
transaction only the units of its submissions' schools are ranked again
(`update_current(..., submission_ids)`), and when each of those schools has units from
one submission only (a school's first file, the usual case) those units are simply the
current ones.

Ranking every unit of the source after every file made ingest quadratic in the number of
files: with one file per school, as schools' MIS exports arrive, that was the largest
part of the writing (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

_RANKED = """
    SELECT u.submission_id, u.urn, u.academic_year, u.term,
           row_number() OVER latest_first = 1 AS is_current,
           lead(u.submission_id) OVER oldest_first AS superseded_by
    FROM audit.submission_units u
    JOIN audit.submission_log l ON l.submission_id = u.submission_id
    WHERE u.source = $source {narrowing}
    WINDOW latest_first AS (PARTITION BY u.urn, u.academic_year, u.term
                            ORDER BY l.file_mtime DESC, l.file_name DESC, u.submission_id DESC),
           oldest_first AS (PARTITION BY u.urn, u.academic_year, u.term
                            ORDER BY l.file_mtime, l.file_name, u.submission_id)
"""


# Every unit of a school the submissions cover: a superset of the units whose ranking they
# can change (a unit is one school's), and a plain semi-join DuckDB pushes into the scan.
_OF_THEIR_SCHOOLS = """AND u.urn IN (SELECT urn FROM audit.submission_units
                          WHERE source = $source
                            AND submission_id IN (SELECT unnest($submission_ids)))"""


# Schools of the submissions with units from more than one submission.
_SHARED_SCHOOLS = f"""
    SELECT count(*) FROM (
        SELECT u.urn FROM audit.submission_units AS u
        WHERE u.source = $source {_OF_THEIR_SCHOOLS}
        GROUP BY u.urn HAVING count(DISTINCT u.submission_id) > 1)"""


def update_current(conn: duckdb.DuckDBPyConnection, source: str,
                   submission_ids: Sequence[str] | None = None) -> None:
    """Set is_current and superseded_by for the source's units: all of them, or (with
    `submission_ids`, just loaded) those of the schools these submissions cover."""
    params: dict[str, object] = {"source": source}
    if submission_ids is not None:
        params["submission_ids"] = list(submission_ids)
        shared = conn.execute(_SHARED_SCHOOLS, params).fetchall()
        if shared[0][0] == 0:  # each unit ranked alone: ~1.5 ms against ~6 ms
            conn.execute("UPDATE audit.submission_units SET is_current = TRUE, "
                         "superseded_by = NULL WHERE source = $source "
                         "AND submission_id IN (SELECT unnest($submission_ids))", params)
            return
    ranked = _RANKED.format(narrowing="" if submission_ids is None else _OF_THEIR_SCHOOLS)
    conn.execute(
        f"""
        UPDATE audit.submission_units AS t
        SET is_current = r.is_current, superseded_by = r.superseded_by
        FROM ({ranked}) AS r
        WHERE t.source = $source AND t.submission_id = r.submission_id AND t.urn = r.urn
          AND t.academic_year = r.academic_year AND t.term IS NOT DISTINCT FROM r.term
          AND (t.is_current IS DISTINCT FROM r.is_current
               OR t.superseded_by IS DISTINCT FROM r.superseded_by)
        """,
        params,
    )
