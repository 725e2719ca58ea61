"""Dagster assets for the audit: GX validation, the publishing gate, the auditor bundle.

- `["audit", "gx_validation"]` runs every suite (one GX context, one checkpoint), updates
  Data Docs and `audit.gx_results`, and reports each suite as an asset check on itself
  (counts and a link to the suite's Data Docs page; ERROR when a critical expectation
  failed, WARN when only warnings did). It always materialises, so the bundle is built
  even when the data is bad — that is when auditors need it most.
- `["audit", "publish_gate"]` fails when any critical expectation failed in the latest
  validation; `["published", "public"]` depends on it, so Dagster does not publish in
  that run. Warnings never block. (A blocking asset check on
  `["indicators", "published_values"]` was the first design, but `gx_validation` must
  itself run downstream of `published_values`, and Dagster makes every downstream asset
  wait for a blocking check: a cycle. A gate asset also lets the bundle, which depends
  only on `gx_validation`, be built when publishing is blocked — when auditors need it.)
- `["audit", "bundle"]` builds the auditor's folder (`IMF_PUBLISH_DIR/audit`). In a run
  that publishes, `["published", "public"]` runs after it and switches `audit` to it
  just before switching `public`, so the two always come from one run.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation.
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from pipelines.audit.bundle import write_bundle
from pipelines.audit.retention import KEEP_RUNS
from pipelines.audit.suite_specs import all_suites
from pipelines.audit.warehouse_objects import existing_tables
from pipelines.automation.interrupts import stops_when_interrupted
from pipelines.resources.warehouse import Warehouse, first_row
from pipelines.settings import ImfSettings

if TYPE_CHECKING:
    from pipelines.audit.gx_run import AuditResult, SuiteResult

# Great Expectations takes 10-20 s to import: it is imported when a validation runs, not
# when the code location loads, so the UI and every command start quickly.

GX_VALIDATION = dg.AssetKey(["audit", "gx_validation"])
BUNDLE = dg.AssetKey(["audit", "bundle"])
PUBLISHED_VALUES = dg.AssetKey(["indicators", "published_values"])
PUBLISH_GATE = dg.AssetKey(["audit", "publish_gate"])
# The public outputs' asset, defined here because publish/assets.py imports this module
# (for BUNDLE, which it depends on) and the bundle step needs to know whether it runs.
PUBLIC_KEY = dg.AssetKey(["published", "public"])
SUITES = all_suites()
VALIDATED = [dg.AssetKey([s.schema, s.table]) for s in SUITES
             if s.schema != "audit"]  # audit.submission_log is written inside ingest assets
INGEST = [dg.AssetKey(["raw", s]) for s in ("spend", "allocations", "outcomes", "voice")]


def work_dir(settings: ImfSettings) -> Path:
    """GX's working project and results history: beside the warehouse, not published."""
    return settings.warehouse_path.parent / "gx"


def data_docs_work_dir(settings: ImfSettings) -> Path:
    return work_dir(settings) / "data_docs"


def check_name(suite: str) -> str:
    return f"gx_{suite}"


def _suite_check(result: "SuiteResult", audit: "AuditResult", publish: Path) -> dg.AssetCheckResult:
    metadata: dict[str, dg.RawMetadataValue] = {
        "table": result.table,
        "status": result.status,
        "expectations": result.evaluated,
        "passed": result.passed,
        "failed_critical": result.failed_critical,
        "failed_warning": result.failed_warning,
    }
    if result.data_docs_page:
        published = publish / "audit" / "data_docs" / result.data_docs_page
        metadata["data_docs"] = dg.MetadataValue.url(published.as_uri())
        metadata["data_docs_working_copy"] = dg.MetadataValue.path(
            str(audit.data_docs_dir / result.data_docs_page))
    if result.note:
        metadata["note"] = result.note
    if result.validated_in_run:
        metadata["validated_in_run"] = result.validated_in_run
        metadata["carried_forward"] = result.validated_in_run != audit.run_name
    failures = result.failures()
    if failures:
        metadata["failures"] = dg.MetadataValue.md("\n".join(
            f"- **{f.severity}**: {f.description}"
            f"{f' (`{f.column}`)' if f.column else ''} — {f.observed or f.error or ''}"
            for f in failures))
    return dg.AssetCheckResult(
        asset_key=GX_VALIDATION,
        check_name=check_name(result.name),
        passed=result.status == "passed",
        severity=dg.AssetCheckSeverity.ERROR if result.failed_critical
        else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


class GxValidationConfig(dg.Config):
    revalidate_unchanged: bool = False
    """Run every suite, including those whose rules and input rows are unchanged since
    their last validation (whose results are otherwise carried forward, and say so)."""


@dg.asset(
    key=GX_VALIDATION,
    group_name="audit",
    deps=[*INGEST, *VALIDATED],
    kinds={"great_expectations", "duckdb"},
    check_specs=[dg.AssetCheckSpec(check_name(s.name), asset=GX_VALIDATION,
                                   description=f"{s.qualified_table}: {s.purpose}")
                 for s in SUITES],
    description="Runs the Great Expectations suites in expectations/ on the warehouse "
    "(read-only, in DuckDB), updates the Data Docs and audit.gx_results. One check per "
    "suite (ERROR when a critical expectation failed, WARN for warnings only). A suite "
    "whose rules and input rows are unchanged since it was last validated keeps that "
    "result, marked carried forward (config revalidate_unchanged runs it anyway). Always "
    "materialises; audit/publish_gate turns critical failures into a block.",
)
@stops_when_interrupted
def gx_validation(
    context: dg.AssetExecutionContext, config: GxValidationConfig, settings: ImfSettings,
    warehouse: Warehouse,
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    from pipelines.audit.gx_run import run_suites

    audit = run_suites(settings.warehouse_path, data_docs_work_dir(settings),
                       work_dir=work_dir(settings), keep_runs=KEEP_RUNS,
                       run_name=f"dagster-{context.run.run_id[:8]}", warehouse=warehouse,
                       carry_forward=not config.revalidate_unchanged)
    for suite in audit.suites:
        yield _suite_check(suite, audit, settings.publish_path)
    critical = sum(s.failed_critical for s in audit.suites)
    context.log.info(
        f"GX validation: {len(audit.suites)} suites in {audit.seconds:.1f} s; "
        f"{critical} critical and {sum(s.failed_warning for s in audit.suites)} warning "
        "failures")
    yield dg.MaterializeResult(metadata={
        "seconds": round(audit.seconds, 2),
        "suites_run": sum(s.status != "not_run" for s in audit.suites),
        "suites_not_run": sum(s.status == "not_run" for s in audit.suites),
        "suites_carried_forward": sum(s.validated_in_run not in (None, audit.run_name)
                                      for s in audit.suites),
        "failed_critical": critical,
        "failed_warning": sum(s.failed_warning for s in audit.suites),
        "publishing_blocked": audit.blocking,
        "data_docs": dg.MetadataValue.url(
            (settings.publish_path / "audit" / "data_docs" / "index.html").as_uri()),
        "audit_objects": dg.MetadataValue.json(
            {o.name: o.note for o in audit.objects}),
    })


@dg.asset(
    key=PUBLISH_GATE,
    group_name="audit",
    deps=[GX_VALIDATION],
    kinds={"great_expectations"},
    description="Fails when any critical Great Expectations expectation failed in the latest "
    "validation, so the publishing asset (which depends on this one) does not run. "
    "Warnings never block.",
)
@stops_when_interrupted
def publish_gate(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    failures, run = latest_critical_failures(warehouse)
    if run is None:
        raise dg.Failure("No Great Expectations validation has run, so nothing may be "
                         "published.", allow_retries=False)
    if failures:
        listing = "\n".join(f"- {suite}: {description}" for suite, description in failures)
        raise dg.Failure(
            description=f"Publishing blocked: {len(failures)} critical check(s) failed in "
            f"validation {run}. See the audit bundle.",
            metadata={"critical_failures": len(failures),
                      "failures": dg.MetadataValue.md(listing)},
            # A failed check is a finding about the data, not a transient fault.
            allow_retries=False,
        )
    context.log.info(f"all critical checks passed in validation {run}")
    return dg.MaterializeResult(metadata={"validation_run": run, "critical_failures": 0})


def latest_critical_failures(warehouse: Warehouse) -> tuple[list[tuple[str, str]], str | None]:
    """(suite, description) of each critical failure in the latest validation run, and the
    run's name (None when validation never ran). Publishing code may call this too."""
    with warehouse.connect(read_only=True) as conn:
        if "audit.gx_results" not in existing_tables(conn):
            return [], None
        row = first_row(conn, "SELECT run_name, run_time FROM audit.gx_results "
                        "ORDER BY run_time DESC LIMIT 1")
        if row is None:
            return [], None
        failures = conn.execute(
            """SELECT suite, description FROM audit.gx_results
               WHERE run_time = ? AND severity = 'critical' AND NOT success
               ORDER BY suite, description""", [row[1]]).fetchall()
    return [(str(s), str(d)) for s, d in failures], f"{row[0]} at {row[1]}"


@dg.asset(
    key=BUNDLE,
    group_name="audit",
    deps=[GX_VALIDATION],
    kinds={"html", "csv", "parquet"},
    description="The auditor's bundle in IMF_PUBLISH_DIR/audit: Data Docs, submission log, "
    "quarantine, reconciliation, suppression record, lineage and an index page.",
)
@stops_when_interrupted
def audit_bundle(
    context: dg.AssetExecutionContext, settings: ImfSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    # When this run goes on to publish, `audit` is switched to this bundle by the public
    # step, just before `public`, so a run killed in between leaves both outputs as they
    # were. When it will not publish (blocked, or the bundle alone), switch now.
    failures, validation = latest_critical_failures(warehouse)
    publishes = (PUBLIC_KEY in context.job_def.asset_layer.selected_asset_keys
                 and validation is not None and not failures)
    path = write_bundle(warehouse.path, settings.publish_path, data_docs_work_dir(settings),
                        keep_runs=KEEP_RUNS, switch=not publishes)
    index = path / "index.html"
    context.log.info(f"audit bundle written to {path.resolve()}" + (
        "; published/audit switches to it with the public outputs" if publishes else ""))
    return dg.MaterializeResult(metadata={
        "index": dg.MetadataValue.url(index.resolve().as_uri()),
        "folder": dg.MetadataValue.path(str(path)),
    })
