"""The ingest asset and its checks, built the same way for every source.

Each source's assets.py calls `build_ingest_definitions(SPEC)`. The asset is unpartitioned
(it takes whatever new files have landed) and registers each academic year it has loaded
as a dynamic partition, so the yearly models can run for it.
"""

# No `from __future__ import annotations`: Dagster inspects the asset function's
# annotations at definition time and needs real classes, not strings.

from typing import Any

import dagster as dg
import duckdb
import polars as pl
from dagster import AssetExecutionContext

from pipelines.automation.interrupts import stops_when_interrupted
from pipelines.automation.partitions import ACADEMIC_YEAR
from pipelines.ingest.pipeline import IngestSummary
from pipelines.ingest.reconcile import quarantine_counts, reconciliation
from pipelines.ingest.rules import RULES
from pipelines.ingest.spec import SourceSpec
from pipelines.ingest.tables import ensure_tables
from pipelines.resources.warehouse import Warehouse
from pipelines.settings import ImfSettings
from pipelines.sources.specs import ingest_source

REFERENCE = dg.AssetKey(["ref", "reference_tables"])
PREVIEW_ROWS = 10


def build_ingest_definitions(
    spec: SourceSpec,
) -> tuple[dg.AssetsDefinition, list[dg.AssetChecksDefinition]]:
    key = dg.AssetKey(["raw", spec.name])

    @dg.asset(
        key=key,
        group_name="ingest",
        deps=[REFERENCE],
        kinds={"duckdb", "polars"},
        description=f"Every {spec.name} landing file loaded (good rows, history kept) or "
        "refused with a reason; bad rows quarantined with every reason; UPNs pseudonymised.",
    )
    @stops_when_interrupted
    def ingest(
        context: AssetExecutionContext, settings: ImfSettings, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        with warehouse.connect() as conn:
            summary = ingest_source(spec.name, settings, conn, progress=context.log.info)
            preview = _preview(conn, summary)
            years = [str(y) for (y,) in conn.execute(
                f"SELECT DISTINCT academic_year FROM raw.{spec.name}").fetchall()]
        known = set(context.instance.get_dynamic_partitions(ACADEMIC_YEAR))
        new_years = sorted(set(years) - known)
        if new_years:
            context.instance.add_dynamic_partitions(ACADEMIC_YEAR, new_years)
            context.log.info(f"new academic years: {', '.join(new_years)}")
        return dg.MaterializeResult(metadata=_metadata(summary, preview, new_years))

    @dg.asset_check(
        asset=key,
        name="reconciliation",
        blocking=True,
        description="Per submission, rows read = rows in raw + rows in quarantine, recounted "
        "from the tables (not taken from the log).",
    )
    @stops_when_interrupted
    def reconciled(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            ensure_tables(conn, spec)
            table = reconciliation(conn, spec.name)
        off = table.filter(~table.get_column("balanced"))
        return dg.AssetCheckResult(
            passed=off.height == 0,
            metadata={
                "submissions": table.height,
                "unbalanced": off.height,
                "unbalanced_files": dg.MetadataValue.md(_markdown(off.head(20))),
            },
        )

    @dg.asset_check(
        asset=key,
        name="contract_failures",
        description="Rows quarantined by each contract rule, for submissions that still count.",
    )
    @stops_when_interrupted
    def contract_failures(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            ensure_tables(conn, spec)
            counts = quarantine_counts(conn, spec.name)
        return dg.AssetCheckResult(
            passed=counts.height == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "failures": int(counts.get_column("failures").sum()) if counts.height else 0,
                "by_rule": dg.MetadataValue.md(_markdown(counts)),
            },
        )

    return ingest, [reconciled, contract_failures]


def _preview(conn: duckdb.DuckDBPyConnection, summary: IngestSummary) -> str:
    """Top quarantine reasons of this run's files, each with an example file and row.

    Values are left out: the Dagster UI has a wider audience than the audit tables.
    """
    loaded = [f.submission_id for f in summary.files if f.status == "loaded"]
    if not loaded:
        return ""
    rows = conn.execute(
        """
        SELECT q.rule, count(*) AS failures, arg_min(l.file_name, q.row_number) AS file,
               min(q.row_number) AS first_row, arg_min(q.column_name, q.row_number) AS col
        FROM audit.quarantine q JOIN audit.submission_log l USING (submission_id)
        WHERE q.submission_id IN (SELECT unnest($ids))
        GROUP BY q.rule ORDER BY failures DESC, q.rule LIMIT $n
        """,
        {"ids": loaded, "n": PREVIEW_ROWS},
    ).fetchall()
    if not rows:
        return ""
    lines = ["| rule | what it means | failures | e.g. file, row, column |", "|---|---|---|---|"]
    lines += [f"| `{rule}` | {RULES.get(rule, '')} | {n} | {file}, row {row}, `{col}` |"
              for rule, n, file, row, col in rows]
    return "\n".join(lines)


def _metadata(summary: IngestSummary, preview: str, new_years: list[str]) -> dict[str, Any]:
    refused = [f for f in summary.files if f.status == "refused"]
    metadata: dict[str, Any] = {
        "files_seen": len(summary.files),
        "files_loaded": summary.count("loaded"),
        "files_refused": len(refused),
        "files_already_loaded": summary.count("unchanged") + summary.count("duplicate"),
        "rows_read": summary.rows_read,
        "rows_loaded": summary.rows_loaded,
        "rows_quarantined": summary.rows_quarantined,
        "academic_years_loaded": ", ".join(summary.academic_years) or "none",
        "new_academic_years": ", ".join(new_years) or "none",
    }
    if preview:
        metadata["top_quarantine_reasons"] = dg.MetadataValue.md(preview)
    if refused:
        metadata["refused_files"] = dg.MetadataValue.md("\n".join(
            f"- `{f.refusal_kind}`: {f.reason}" for f in refused))
    if summary.notes:
        metadata["notes"] = dg.MetadataValue.md("\n".join(f"- {n}" for n in summary.notes))
    return metadata


def _markdown(frame: pl.DataFrame) -> str:
    if frame.height == 0:
        return "none"
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * frame.width
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *body])
