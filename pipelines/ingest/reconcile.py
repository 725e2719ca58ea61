"""Reconciliation: rows read = rows loaded + rows quarantined, recounted from the tables.

The counts in the submission log are what ingest believed; this recounts what is actually
in `raw` and `audit.quarantine_rows`, so a lost or doubled row shows up.
"""

from __future__ import annotations

import duckdb
import polars as pl


def reconciliation(conn: duckdb.DuckDBPyConnection, source: str) -> pl.DataFrame:
    """One row per loaded submission of `source`, with `balanced` true when it adds up."""
    return conn.sql(
        f"""
        WITH loaded AS (
            SELECT submission_id, count(*) AS n FROM raw.{source} GROUP BY ALL),
        quarantined AS (
            SELECT submission_id, count(DISTINCT row_number) AS n
            FROM audit.quarantine_rows WHERE source = $source GROUP BY ALL)
        SELECT l.submission_id, l.file_name, l.rows_read,
               coalesce(a.n, 0) AS rows_loaded, coalesce(q.n, 0) AS rows_quarantined,
               l.rows_read = coalesce(a.n, 0) + coalesce(q.n, 0)
                 AND l.rows_loaded = coalesce(a.n, 0)
                 AND l.rows_quarantined = coalesce(q.n, 0) AS balanced
        FROM audit.submission_log l
        LEFT JOIN loaded a USING (submission_id)
        LEFT JOIN quarantined q USING (submission_id)
        WHERE l.source = $source AND l.status = 'loaded'
        ORDER BY l.received_at, l.file_name
        """,
        params={"source": source},
    ).pl()


def quarantine_counts(conn: duckdb.DuckDBPyConnection, source: str) -> pl.DataFrame:
    """Failures by rule for submissions that still count (not wholly superseded)."""
    return conn.sql(
        """
        SELECT q.rule, count(*) AS failures, count(DISTINCT (q.submission_id, q.row_number))
               AS rows
        FROM audit.quarantine q
        WHERE q.source = $source AND q.submission_id NOT IN (
            SELECT submission_id FROM audit.submission_units WHERE source = $source
            GROUP BY submission_id HAVING NOT bool_or(is_current))
        GROUP BY q.rule ORDER BY failures DESC, q.rule
        """,
        params={"source": source},
    ).pl()
