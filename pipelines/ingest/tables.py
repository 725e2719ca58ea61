"""The raw and audit tables ingest writes (docs/warehouse.md), created if missing."""

from __future__ import annotations

import duckdb

from pipelines.ingest.spec import SourceSpec

AUDIT_TABLES = {
    "submission_log": """
        submission_id VARCHAR, source VARCHAR, file_name VARCHAR, landing_path VARCHAR,
        file_mtime TIMESTAMP, received_at TIMESTAMP, file_format VARCHAR, encoding VARCHAR,
        status VARCHAR, reason VARCHAR, rows_read BIGINT, rows_loaded BIGINT,
        rows_quarantined BIGINT, extra_columns VARCHAR[], refusal_kind VARCHAR""",
    "submission_units": """
        source VARCHAR, submission_id VARCHAR, urn BIGINT, academic_year VARCHAR,
        term VARCHAR, rows_loaded BIGINT, is_current BOOLEAN, superseded_by VARCHAR""",
    "quarantine": """
        submission_id VARCHAR, source VARCHAR, row_number INTEGER, column_name VARCHAR,
        rule VARCHAR, value VARCHAR""",
    "quarantine_rows": """
        submission_id VARCHAR, source VARCHAR, row_number INTEGER, row_json VARCHAR""",
    # Every (name, size, mtime) seen, so an unchanged file is not re-hashed on every run,
    # and every name a submission's bytes arrived under.
    "landing_files": """
        source VARCHAR, file_name VARCHAR, file_size BIGINT, file_mtime_ns BIGINT,
        submission_id VARCHAR, seen_at TIMESTAMP""",
}


def raw_columns(spec: SourceSpec) -> list[tuple[str, str]]:
    return [("submission_id", "VARCHAR"), ("row_number", "INTEGER")] + [
        (c.raw_name, c.raw_sql_type) for c in spec.columns
    ]


def ensure_tables(conn: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
    conn.execute("CREATE SCHEMA IF NOT EXISTS audit")
    for name, columns in AUDIT_TABLES.items():
        conn.execute(f"CREATE TABLE IF NOT EXISTS audit.{name} ({columns})")
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in raw_columns(spec))
    conn.execute(f"CREATE TABLE IF NOT EXISTS raw.{spec.name} ({columns})")
