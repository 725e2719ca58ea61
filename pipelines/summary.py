"""The short report `imf run` prints: what came in, what was held back, where outputs are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from pipelines.resources.warehouse import first_row


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str) -> int:
    try:
        row = first_row(conn, sql)
    except duckdb.CatalogException:
        return 0
    return int(row[0] or 0) if row else 0


def print_summary(
    warehouse: Path, publish_dir: Path, elapsed_s: float, say: Callable[[str], None]
) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        log = "SELECT count(*) FROM audit.submission_log WHERE status = "
        loaded = _scalar(conn, log + "'loaded'")
        refused = _scalar(conn, log + "'refused'")
        rows_read = _scalar(conn, "SELECT sum(rows_read) FROM audit.submission_log")
        rows_loaded = _scalar(conn, "SELECT sum(rows_loaded) FROM audit.submission_log")
        rows_quarantined = _scalar(conn, "SELECT sum(rows_quarantined) FROM audit.submission_log")
        cells = _scalar(conn, "SELECT count(*) FROM indicators.published_values")
        suppressed = _scalar(conn, "SELECT count(*) FROM indicators.published_values "
                                   "WHERE value = 'c'")
        groups = _scalar(conn, "SELECT count(DISTINCT group_id) FROM indicators.published_values")
    say("")
    say(f"✓ Run complete in {elapsed_s:.0f} s")
    say(f"  Files:      {loaded} loaded, {refused} refused (reasons in the audit bundle)")
    say(f"  Rows:       {rows_read:,} read = {rows_loaded:,} loaded + "
        f"{rows_quarantined:,} quarantined")
    say(f"  Indicators: {cells:,} cells for {groups} partnership groups "
        f"({suppressed:,} suppressed to protect children's privacy)")
    say("  Outputs:")
    say(f"    reports and EES tables  {publish_dir / 'public' / 'index.html'}")
    say(f"    auditor bundle          {publish_dir / 'audit' / 'index.html'}")
    say(f"    warehouse (DuckDB)      {warehouse}")
    say("    Dagster UI              imf ui  →  http://127.0.0.1:3000")
