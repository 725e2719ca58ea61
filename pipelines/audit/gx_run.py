"""Run the Great Expectations suites on the warehouse, without Dagster.

`run_suites(warehouse_path, data_docs_dir)`:
1. builds the audit views and lineage (one committed write transaction),
2. validates every suite whose table exists, through GX's SQL datasource on a read-only
   DuckDB connection (see `pipelines.resources.gx`), in one checkpoint so a run's results
   share one run id, and updates the Data Docs site in `data_docs_dir`,
3. records one row per expectation in `audit.gx_results` (another short write).

History is bounded: before each run the validation results of all but the newest
`keep_runs - 1` runs are deleted from the results store *and* their pages from the site,
so the site holds at most `keep_runs` runs and GX's incremental Data Docs update (only
the new pages plus the index) stays the same cost however many runs have happened.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pipelines.audit.fingerprints import fingerprints
from pipelines.audit.retention import KEEP_RUNS
from pipelines.audit.suite_specs import SuiteSpec, all_suites
from pipelines.audit.warehouse_objects import ObjectStatus, build_audit_objects, existing_tables
from pipelines.resources import gx as gxr
from pipelines.resources.gx import ExpectationSuiteIdentifier, RunIdentifier, gx
from pipelines.resources.warehouse import Warehouse, writer_lock
from pipelines.settings import EXPECTATIONS_DIR

SuiteStatus = Literal["passed", "failed", "not_run"]
CHECKPOINT = "imf_audit"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpectationOutcome:
    suite: str
    expectation_type: str
    description: str
    column: str | None
    severity: str
    success: bool
    unexpected_count: int | None
    observed: str
    error: str | None

    @property
    def blocking(self) -> bool:
        return not self.success and self.severity == "critical"


@dataclass(frozen=True)
class SuiteResult:
    name: str
    table: str
    layer: str
    purpose: str
    status: SuiteStatus
    outcomes: tuple[ExpectationOutcome, ...] = ()
    data_docs_page: str | None = None  # relative to the Data Docs site root
    note: str = ""
    # The GX run that evaluated these outcomes: this run, or an earlier one whose result
    # was carried forward because nothing the suite reads had changed.
    validated_in_run: str | None = None
    validated_at: datetime | None = None

    @property
    def evaluated(self) -> int:
        return len(self.outcomes)

    @property
    def passed(self) -> int:
        return sum(o.success for o in self.outcomes)

    @property
    def failed_critical(self) -> int:
        return sum(o.blocking for o in self.outcomes)

    @property
    def failed_warning(self) -> int:
        return sum((not o.success) and o.severity != "critical" for o in self.outcomes)

    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


@dataclass(frozen=True)
class AuditResult:
    run_name: str
    run_time: datetime
    suites: tuple[SuiteResult, ...]
    data_docs_dir: Path
    seconds: float
    objects: tuple[ObjectStatus, ...] = field(default_factory=tuple)

    @property
    def blocking(self) -> bool:
        """Whether any critical expectation failed (publishing must not go ahead)."""
        return any(s.failed_critical for s in self.suites)

    @property
    def data_docs_index(self) -> Path:
        return self.data_docs_dir / "index.html"

    def suite(self, name: str) -> SuiteResult:
        for s in self.suites:
            if s.name == name:
                return s
        raise KeyError(name)


def _describe(config: Any, meta: dict[str, Any]) -> str:
    description = getattr(config, "description", None) or meta.get("why") or config.type
    return str(description)


def _error(exception_info: Any) -> str | None:
    """GX reports errors either flat or keyed per metric; return the first message."""
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else \
        list(exception_info.values())
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message") or "error")
    return None


def _observed(result: dict[str, Any]) -> str:
    if "unexpected_count" in result:
        return f"{result.get('unexpected_count')} of {result.get('element_count')} rows"
    if "observed_value" in result:
        return f"{result['observed_value']} rows returned"
    return ""


def _outcomes(suite: str, validation: Any) -> tuple[ExpectationOutcome, ...]:
    outcomes = []
    for er in validation.results:
        config = er.expectation_config
        meta = dict(config.meta or {})
        severity = str(meta.get("severity") or getattr(config, "severity", "critical"))
        result = dict(er.result or {})
        unexpected = result.get("unexpected_count")
        if unexpected is None and config.type == "unexpected_rows_expectation":
            unexpected = result.get("observed_value")
        outcomes.append(ExpectationOutcome(
            suite=suite,
            expectation_type=config.type,
            description=_describe(config, meta),
            column=config.kwargs.get("column"),
            severity=severity,
            success=bool(er.success),
            unexpected_count=int(unexpected) if isinstance(unexpected, int | float) else None,
            observed=_observed(result),
            error=_error(er.exception_info),
        ))
    return tuple(outcomes)


def prune_history(store_dir: Path, site_dir: Path, keep: int) -> int:
    """Keep only the newest `keep` runs (by run time) per suite in store and site."""
    removed = 0
    if not store_dir.exists():
        return 0
    for suite_dir in (p for p in store_dir.iterdir() if p.is_dir()):
        runs = sorted(
            (run_time.name, run_time)
            for run_name in suite_dir.iterdir() if run_name.is_dir()
            for run_time in run_name.iterdir() if run_time.is_dir()
        )
        for _, old in runs[: max(len(runs) - keep, 0)]:
            rel = old.relative_to(store_dir)
            shutil.rmtree(old, ignore_errors=True)
            shutil.rmtree(site_dir / "validations" / rel, ignore_errors=True)
            removed += 1
    return removed


def _select(suites: Iterable[str] | None) -> list[SuiteSpec]:
    specs = all_suites()
    if suites is None:
        return specs
    wanted = set(suites)
    unknown = wanted - {s.name for s in specs}
    if unknown:
        raise ValueError(f"unknown suites: {sorted(unknown)}")
    return [s for s in specs if s.name in wanted]


def run_suites(
    warehouse_path: Path | str,
    data_docs_dir: Path | str,
    suites: Iterable[str] | None = None,
    *,
    work_dir: Path | None = None,
    keep_runs: int = KEEP_RUNS,
    run_name: str = "imf-audit",
    project_dir: Path = EXPECTATIONS_DIR,
    record: bool = True,
    warehouse: Warehouse | None = None,
    carry_forward: bool = True,
) -> AuditResult:
    """Validate the warehouse with the committed suites; build Data Docs; record results.

    `work_dir` (default: `gx/` beside the warehouse) holds GX's working project and the
    bounded results history; `data_docs_dir` receives the static site. With
    `carry_forward`, a suite whose rules and input rows are unchanged since GX last
    validated it keeps that result (see `pipelines.audit.fingerprints`); without it,
    every suite runs.
    """
    started = time.perf_counter()
    warehouse_path = Path(warehouse_path).resolve()
    data_docs_dir = Path(data_docs_dir).resolve()
    work_dir = (work_dir or warehouse_path.parent / "gx").resolve()
    specs = _select(suites)
    warehouse = warehouse or Warehouse(path=str(warehouse_path))
    with writer_lock(Path(warehouse.path)):
        # Held throughout: no other process can be writing while GX reads (DuckDB would
        # refuse the read-only open), and what GX validates is one consistent state.
        return _run_locked(warehouse, warehouse_path, data_docs_dir, work_dir, specs,
                           keep_runs, run_name, project_dir, record, started,
                           carry_forward)


def _run_locked(warehouse: Warehouse, warehouse_path: Path, data_docs_dir: Path,
                work_dir: Path, specs: list[SuiteSpec], keep_runs: int, run_name: str,
                project_dir: Path, record: bool, started: float,
                carry_forward: bool) -> AuditResult:
    run_time = datetime.now(UTC)
    with warehouse.transaction() as conn:
        objects = tuple(build_audit_objects(conn))
        present = existing_tables(conn)
        prints = fingerprints(conn, specs, _suite_documents(project_dir), _versions(),
                              present)
        carried = _carried(conn, specs, prints, present, data_docs_dir) if carry_forward \
            else {}

    root = gxr.prepare_project(work_dir, data_docs_dir, project_dir)
    prune_history(root / "uncommitted" / "validations", data_docs_dir, max(keep_runs - 1, 0))
    results: dict[str, SuiteResult] = dict(carried)
    runnable = []
    for spec in specs:
        if spec.name in carried:
            continue
        if spec.qualified_table not in present:
            results[spec.name] = SuiteResult(
                spec.name, spec.qualified_table, spec.layer, spec.purpose, "not_run",
                note=f"table {spec.qualified_table} does not exist in the warehouse yet")
        else:
            runnable.append(spec)
    if carried:
        logger.info("%d suite(s) carried forward (data and rules unchanged): %s",
                    len(carried), ", ".join(sorted(carried)))

    if runnable:
        results.update(_validate(runnable, root, warehouse, warehouse_path, data_docs_dir,
                                 run_name, run_time))

    ordered = tuple(results[s.name] for s in specs)
    audit = AuditResult(run_name, run_time, ordered, data_docs_dir,
                        time.perf_counter() - started, objects)
    if record:
        # A suite with an expectation GX could not evaluate is not fingerprinted: the error
        # may be transient, so it runs again next time rather than being carried forward.
        clean = {s.name for s in audit.suites if not any(o.error for o in s.outcomes)}
        record_results(warehouse, audit,
                       validated={s.name: prints[s.name] for s in runnable
                        if s.name in prints and s.name in clean})
    return audit


def _validate(runnable: list[SuiteSpec], root: Path, warehouse: Warehouse,
              warehouse_path: Path, data_docs_dir: Path, run_name: str,
              run_time: datetime) -> dict[str, SuiteResult]:
    """Run GX on these suites in one checkpoint and update the Data Docs site."""
    results: dict[str, SuiteResult] = {}
    with gxr.disposing_engines():
        context = gxr.open_context(root)
        datasource = gxr.add_warehouse(context, warehouse_path, warehouse.memory_limit,
                                         warehouse.threads)
        definitions = []
        for spec in runnable:
            asset = datasource.add_table_asset(
                name=spec.name, table_name=spec.table, schema_name=spec.schema)
            batch = asset.add_batch_definition_whole_table("whole_table")
            definitions.append(context.validation_definitions.add(gx.ValidationDefinition(
                name=spec.name, data=batch, suite=context.suites.get(spec.name))))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=CHECKPOINT,
            validation_definitions=definitions,
            # No UpdateDataDocsAction: it rebuilds the site index once per suite, and
            # each index build reads every stored result; one build below suffices.
            actions=[],
            # BASIC still gives each expectation's counts and up to 20 unexpected
            # values for the Data Docs; SUMMARY's extra value-count queries cost
            # about a fifth of the validation time (measured at la scale).
            result_format={"result_format": "BASIC"},
        ))
        outcome = checkpoint.run(run_id=RunIdentifier(run_name=run_name, run_time=run_time))
        built = time.perf_counter()
        context.build_data_docs(
            site_names=[gxr.DOCS_SITE],
            resource_identifiers=[  # type: ignore[arg-type]  # GX accepts a mix
                *outcome.run_results.keys(),
                *(ExpectationSuiteIdentifier(name=s.name) for s in runnable)],
            build_index=True)
        logger.info("Data Docs built in %.1f s", time.perf_counter() - built)
        by_name = {s.name: s for s in runnable}
        for identifier, validation in outcome.run_results.items():
            suite_name = identifier.expectation_suite_identifier.name
            spec = by_name[suite_name]
            outs = _outcomes(suite_name, validation)
            page = _page(context, identifier, data_docs_dir)
            results[suite_name] = SuiteResult(
                spec.name, spec.qualified_table, spec.layer, spec.purpose,
                "passed" if all(o.success for o in outs) else "failed", outs, page,
                validated_in_run=run_name, validated_at=run_time)
    return results


def _suite_documents(project_dir: Path) -> dict[str, str]:
    """The text of each suite document GX runs (what the fingerprint covers)."""
    return {path.stem: path.read_text(encoding="utf-8")
            for path in sorted((project_dir / "expectations").glob("*.json"))}


def _versions() -> str:
    import duckdb

    return f"great_expectations {gx.__version__}; duckdb {duckdb.__version__}"


def _carried(conn: Any, specs: list[SuiteSpec], prints: dict[str, str], present: set[str],
             data_docs_dir: Path) -> dict[str, SuiteResult]:
    """The suites whose last validation still holds, rebuilt from audit.gx_results.

    A suite is carried forward when the fingerprint of its rules and of every row it reads
    equals the one recorded when GX last validated it, that validation's results are in
    audit.gx_results (copied into every later run), and its Data Docs page still exists.
    """
    if not {"audit.gx_fingerprints", "audit.gx_results"} <= present:
        return {}
    _migrate_results(conn)
    recorded = {
        suite: (fingerprint, run, at) for suite, fingerprint, run, at in conn.execute(
            "SELECT suite, fingerprint, validated_in_run, validated_at "
            "FROM audit.gx_fingerprints").fetchall()}
    carried: dict[str, SuiteResult] = {}
    for spec in specs:
        if spec.name not in prints or spec.name not in recorded:
            continue
        fingerprint, run, at = recorded[spec.name]
        if fingerprint != prints[spec.name]:
            continue
        rows = conn.execute(
            """SELECT suite_status, expectation_type, description, column_name, severity,
                      success, unexpected_count, observed, error, data_docs_page
               FROM audit.gx_results
               WHERE suite = ? AND validated_at = ? AND expectation_type IS NOT NULL
                 AND run_time = (SELECT max(run_time) FROM audit.gx_results WHERE suite = ?)
               ORDER BY rowid""", [spec.name, at, spec.name]).fetchall()
        page = rows[0][9] if rows else None
        if not rows or page is None or not (data_docs_dir / page).is_file():
            continue
        outcomes = tuple(ExpectationOutcome(
            suite=spec.name, expectation_type=r[1], description=r[2], column=r[3],
            severity=r[4], success=bool(r[5]), unexpected_count=r[6], observed=r[7] or "",
            error=r[8]) for r in rows)
        carried[spec.name] = SuiteResult(
            spec.name, spec.qualified_table, spec.layer, spec.purpose, rows[0][0], outcomes,
            page, note=f"carried forward: validated in run {run} at "
            f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC; "
            "the suite and every row it reads are unchanged since",
            validated_in_run=run, validated_at=at)
    return carried


def _page(context: Any, identifier: Any, site_dir: Path) -> str | None:
    urls = context.get_docs_sites_urls(resource_identifier=identifier,
                                       site_names=[gxr.DOCS_SITE], only_if_exists=False)
    for entry in urls:
        url = entry.get("site_url") or ""
        if url.startswith("file://"):
            path = Path(url.removeprefix("file://"))
            try:
                return path.relative_to(site_dir).as_posix()
            except ValueError:
                return None
    return None


GX_RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS audit.gx_results (
  run_name VARCHAR, run_time TIMESTAMPTZ, suite VARCHAR, table_name VARCHAR,
  suite_status VARCHAR, expectation_type VARCHAR, description VARCHAR, column_name VARCHAR,
  severity VARCHAR, success BOOLEAN, unexpected_count BIGINT, observed VARCHAR,
  error VARCHAR, data_docs_page VARCHAR, validated_in_run VARCHAR,
  validated_at TIMESTAMPTZ)
"""
GX_RESULT_COLUMNS = (
    "run_name", "run_time", "suite", "table_name", "suite_status", "expectation_type",
    "description", "column_name", "severity", "success", "unexpected_count", "observed",
    "error", "data_docs_page", "validated_in_run", "validated_at")
GX_FINGERPRINTS_DDL = """
CREATE TABLE IF NOT EXISTS audit.gx_fingerprints (
  suite VARCHAR PRIMARY KEY, fingerprint VARCHAR NOT NULL,
  validated_in_run VARCHAR NOT NULL, validated_at TIMESTAMPTZ NOT NULL)
"""


def _migrate_results(conn: Any) -> None:
    """Warehouses from before carry-forward lack the two validated_* columns."""
    conn.execute(GX_RESULTS_DDL)
    for column, kind in (("validated_in_run", "VARCHAR"), ("validated_at", "TIMESTAMPTZ")):
        conn.execute(f"ALTER TABLE audit.gx_results ADD COLUMN IF NOT EXISTS {column} {kind}")


def record_results(warehouse: Warehouse, audit: AuditResult, keep: int = KEEP_RUNS,
                   validated: dict[str, str] | None = None) -> None:
    """Append this run to audit.gx_results (bounded like the Data Docs history), carried
    suites included, and record the fingerprint of each suite GX validated (`validated`:
    {suite: fingerprint}) so a later run can tell whether it needs validating again."""
    rows: list[tuple[Any, ...]] = []
    for s in audit.suites:
        head = (audit.run_name, audit.run_time, s.name, s.table, s.status)
        validated_by = (s.validated_in_run, s.validated_at)
        if not s.outcomes:
            rows.append((*head, None, s.note, None, None, None, None, None, None, None,
                         *validated_by))
        for o in s.outcomes:
            rows.append((*head, o.expectation_type, o.description, o.column, o.severity,
                         o.success, o.unexpected_count, o.observed, o.error,
                         s.data_docs_page, *validated_by))
    with warehouse.transaction() as conn:
        _migrate_results(conn)
        if rows:
            conn.executemany(
                f"INSERT INTO audit.gx_results ({', '.join(GX_RESULT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(GX_RESULT_COLUMNS))})", rows)
        conn.execute(
            """DELETE FROM audit.gx_results WHERE run_time NOT IN (
                 SELECT DISTINCT run_time FROM audit.gx_results
                 ORDER BY run_time DESC LIMIT ?)""", [keep])
        conn.execute(GX_FINGERPRINTS_DDL)
        # A suite that did not run this time (table missing) has no valid fingerprint.
        not_run = [s.name for s in audit.suites if s.status == "not_run"]
        if not_run:
            conn.execute("DELETE FROM audit.gx_fingerprints WHERE suite IN "
                         f"({', '.join('?' * len(not_run))})", not_run)
        if validated:
            conn.executemany(
                "INSERT OR REPLACE INTO audit.gx_fingerprints VALUES (?, ?, ?, ?)",
                [(suite, fingerprint, audit.run_name, audit.run_time)
                 for suite, fingerprint in validated.items()])
