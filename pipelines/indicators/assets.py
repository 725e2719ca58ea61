"""The published indicator table, and the blocking check that guards it.

`published_values` applies disclosure control (disclosure.py) to
`indicators.indicator_values` and writes `indicators.published_values` with the audit
record `audit.suppression`, both in one transaction. The blocking `disclosure_control`
check re-verifies the result independently (verify.py, in SQL); when it fails, nothing
downstream (EES files, reports) runs.
"""

from __future__ import annotations

from collections import Counter

import dagster as dg
import duckdb
import polars as pl

from pipelines.automation.interrupts import stops_when_interrupted
from pipelines.catalog import indicator_catalog
from pipelines.indicators.disclosure import (
    PUBLISHED_COLUMNS,
    Cell,
    CellKey,
    publish,
    suppress,
    suppression_rows,
)
from pipelines.indicators.verify import verify_published
from pipelines.resources.warehouse import Warehouse
from pipelines.settings import ImfSettings

KEY_COLUMNS = ("level", "la_code", "group_id", "academic_year", "sen_breakdown", "indicator_id")
PUBLISHED_SCHEMA = {c: pl.String for c in (*KEY_COLUMNS, "kind", *PUBLISHED_COLUMNS)}
SUPPRESSION_SCHEMA = {c: pl.String for c in (*KEY_COLUMNS, "rule", "detail")}


def read_cells(conn: duckdb.DuckDBPyConnection) -> list[Cell]:
    rows = conn.execute(
        """
        SELECT level, la_code, group_id, academic_year, sen_breakdown, indicator_id, kind,
               numerator, denominator, pupils, value, ci_lower, ci_upper, gap_pp, change_pp
        FROM indicators.indicator_values
        """
    ).fetchall()
    return [
        Cell(
            key=CellKey(*r[:6]),
            kind=r[6],
            numerator=float(r[7]),
            denominator=float(r[8]),
            pupils=int(r[9]),
            value=r[10],
            ci_lower=r[11],
            ci_upper=r[12],
            gap_pp=r[13],
            change_pp=r[14],
        )
        for r in rows
    ]


def sen_only_indicators() -> frozenset[str]:
    """Indicators defined only for pupils with SEN (header `sen_only: true`)."""
    return frozenset(m.id for m in indicator_catalog() if m.extra.get("sen_only") == "true")


def write_published(
    conn: duckdb.DuckDBPyConnection,
    threshold: int,
    sen_only: frozenset[str] | None = None,
) -> dict[str, int]:
    """Suppress, format and write both tables on `conn`; return counts for metadata."""
    sen_only = sen_only_indicators() if sen_only is None else sen_only
    cells = read_cells(conn)
    decided = suppress(cells, threshold, sen_only)
    published = pl.DataFrame(
        publish(cells, decided, sen_only), schema=PUBLISHED_SCHEMA, orient="row"
    )
    record = pl.DataFrame(suppression_rows(decided), schema=SUPPRESSION_SCHEMA, orient="row")
    conn.register("published_frame", published.to_arrow())
    conn.register("suppression_frame", record.to_arrow())
    try:
        conn.execute(
            "CREATE OR REPLACE TABLE indicators.published_values AS SELECT * FROM published_frame"
        )
        conn.execute("CREATE OR REPLACE TABLE audit.suppression AS SELECT * FROM suppression_frame")
    finally:
        conn.unregister("published_frame")
        conn.unregister("suppression_frame")
    rules = Counter(str(r["rule"]) for r in record.iter_rows(named=True))
    return {
        "rows": published.height,
        "suppressed_cells": len(decided),
        **{f"suppressed_by_{rule}": n for rule, n in sorted(rules.items())},
    }


@dg.asset(
    key=["indicators", "published_values"],
    deps=[dg.AssetKey(["indicators", "indicator_values"])],
    group_name="indicators",
    kinds={"duckdb", "python"},
    description=(
        "The outcome indicators as they may be published: disclosure control applied "
        "(primary and secondary suppression, EES symbols c/z/x, counts to 0 dp, "
        "percentages and percentage points to 1 dp). Why each cell was suppressed is "
        "recorded in audit.suppression, for auditors only."
    ),
)
@stops_when_interrupted
def published_values(warehouse: Warehouse, settings: ImfSettings) -> dg.MaterializeResult:
    with warehouse.transaction() as conn:
        counts = write_published(conn, settings.suppression_threshold)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": counts.pop("rows"),
            "suppression_threshold": settings.suppression_threshold,
            **counts,
        }
    )


@dg.asset_check(
    asset=published_values,
    name="disclosure_control",
    blocking=True,
    description=(
        "Re-verifies the published table against indicator_values, independently of the "
        "code that suppressed it: no small or 1-2 numerator/complement cell shown, no "
        "equation (SEN breakdown or geography) with exactly one suppressed cell, no "
        "blanks or NULLs, only c/z/x as symbols, whole cells suppressed."
    ),
)
@stops_when_interrupted
def disclosure_control(warehouse: Warehouse, settings: ImfSettings) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as conn:
        findings = verify_published(conn, settings.suppression_threshold)
    return dg.AssetCheckResult(
        passed=not findings,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "problems": len(findings),
            **{f.problem: f"{f.count} e.g. {'; '.join(f.examples[:2])}" for f in findings},
        },
    )
