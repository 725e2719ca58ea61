"""The Great Expectations context the audit runs in, and how it reaches DuckDB.

Set before GX is imported, on purpose:
- `GX_ANALYTICS_ENABLED=false`: GX sends usage analytics by default; the pipeline handles
  data about children and must not phone home (also `analytics_enabled: false` in config).

How GX connects to the warehouse (DuckDB allows one writer per file, and within one
process a second connection to the same file with a different configuration fails):
- GX uses its SQL datasource through duckdb-engine with a **read-only** connection
  (`connect_args={"read_only": True}`): the audit cannot change what it audits, and the
  expectations run as SQL inside DuckDB (no table is copied into pandas).
- The audit opens it only after its own writes (audit views, lineage) are committed and
  closed, and disposes of the engine as soon as validation ends (`disposing_engines`), so a
  writer opened later in the same process is not refused.
- Across processes, a read-only open fails while another process holds the write lock:
  the audit assets sit in the same Dagster concurrency pool as the warehouse writers
  (`WAREHOUSE_POOL`), so they never overlap.

Each run works on a copy of the committed project (`expectations/`) in a work folder:
GX persists datasources and results into its project, and the run must never write into
the repository. Validation results accumulate there (pruned to the last N runs by
`pipelines.audit.gx_run`), which is what Data Docs show as history.
"""

from __future__ import annotations

import os

# Before any GX import (see module docstring).
os.environ["GX_ANALYTICS_ENABLED"] = "false"

import shutil
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import great_expectations as gx
import yaml
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context import FileDataContext
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
)
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SAWarning

from pipelines.resources.gx_duckdb import apply_duckdb_patch
from pipelines.settings import EXPECTATIONS_DIR

apply_duckdb_patch()
# Known, harmless noise in run logs: duckdb-engine cannot name DuckDB's LIST type when GX
# reflects column types (no expectation here uses them), and GX 1.24 prefers the schema in
# the connection string, which a single read-only connection to several schemas cannot do.
warnings.filterwarnings("ignore", message="Did not recognize type", category=SAWarning)
warnings.filterwarnings("ignore", message="`schema_name` is deprecated",
                        category=DeprecationWarning)

# Other modules take GX from here, so nothing imports GX before analytics are off.
__all__ = ["ExpectationSuiteIdentifier", "FileDataContext", "RunIdentifier", "gx"]

DATASOURCE = "warehouse"
DOCS_SITE = "audit_site"
WAREHOUSE_POOL = "duckdb_warehouse"


def project_config(data_docs_dir: str = "uncommitted/data_docs/audit_site/") -> dict[str, Any]:
    """great_expectations.yml: file stores, one Data Docs site, analytics and bars off."""

    def fs(base: str, **extra: Any) -> dict[str, Any]:
        return {"class_name": "TupleFilesystemStoreBackend", "base_directory": base, **extra}

    return {
        "config_version": 4.0,
        "config_variables_file_path": "uncommitted/config_variables.yml",
        "plugins_directory": None,
        "stores": {
            "expectations_store": {"class_name": "ExpectationsStore",
                                   "store_backend": fs("expectations/")},
            "validation_results_store": {"class_name": "ValidationResultsStore",
                                         "store_backend": fs("uncommitted/validations/")},
            "checkpoint_store": {"class_name": "CheckpointStore",
                                 "store_backend": fs("uncommitted/checkpoints/",
                                                     suppress_store_backend_id=True)},
            "validation_definition_store": {
                "class_name": "ValidationDefinitionStore",
                "store_backend": fs("uncommitted/validation_definitions/")},
        },
        "expectations_store_name": "expectations_store",
        "validation_results_store_name": "validation_results_store",
        "checkpoint_store_name": "checkpoint_store",
        "data_docs_sites": {
            DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": fs(data_docs_dir),
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        "analytics_enabled": False,
        # tqdm bars would flood the Dagster run logs with carriage-return noise.
        "progress_bars": {"globally": False, "metric_calculations": False},
        "fluent_datasources": {},
    }


def render_project_config(data_docs_dir: str = "uncommitted/data_docs/audit_site/") -> str:
    header = ("# Great Expectations project of the IMF audit (GX 1.24.1).\n"
              "# Generated by pipelines/resources/gx.py; suites are in expectations/, written\n"
              "# by pipelines/audit/suite_specs.py. Runs work on a copy of this folder.\n")
    return header + yaml.safe_dump(project_config(data_docs_dir), sort_keys=False)


def prepare_project(work_dir: Path, data_docs_dir: Path,
                    project_dir: Path = EXPECTATIONS_DIR) -> Path:
    """A runnable GX project in `work_dir`: fresh config and suites, kept results history."""
    root = work_dir / "gx"
    (root / "expectations").mkdir(parents=True, exist_ok=True)
    data_docs_dir.mkdir(parents=True, exist_ok=True)
    (root / "great_expectations.yml").write_text(
        render_project_config(str(data_docs_dir.resolve()) + "/"), encoding="utf-8")
    # The committed suites are the only source of truth: replace, never merge.
    for old in (root / "expectations").glob("*.json"):
        old.unlink()
    for suite in sorted((project_dir / "expectations").glob("*.json")):
        shutil.copyfile(suite, root / "expectations" / suite.name)
    for stale in ("uncommitted/checkpoints", "uncommitted/validation_definitions"):
        shutil.rmtree(root / stale, ignore_errors=True)
    return root


def open_context(root: Path) -> FileDataContext:
    context = gx.get_context(mode="file", context_root_dir=str(root))
    assert isinstance(context, FileDataContext)
    return context


def duckdb_url(warehouse_path: Path) -> str:
    return f"duckdb:///{Path(warehouse_path).resolve()}"


def add_warehouse(context: FileDataContext, warehouse_path: Path,
                  memory_limit: str = "4GB", threads: int = 2) -> Any:
    """The warehouse as a read-only SQL datasource (see module docstring).

    DuckDB's own memory limit (default 80% of RAM) is set like the warehouse's: the
    uniqueness expectations on national fact tables otherwise build hash tables of
    several GiB instead of spilling to disk.
    """
    return context.data_sources.add_or_update_sql(  # type: ignore[call-arg]
        name=DATASOURCE,
        connection_string=duckdb_url(warehouse_path),
        # Temp tables are a write; GX does not need them for whole-table batches.
        create_temp_table=False,
        kwargs={"connect_args": {"read_only": True, "config": {
            "memory_limit": memory_limit, "threads": threads}}},
    )


@contextmanager
def disposing_engines() -> Iterator[None]:
    """Dispose, on exit, of every SQLAlchemy engine GX connected with inside the block.

    duckdb-engine pools file connections (QueuePool), so GX's read-only connection would
    otherwise stay open after validation and make the next writer in this process fail
    ("different configuration"). GX builds and caches engines out of our reach, so they
    are collected from SQLAlchemy's connect event instead of looked up.
    """
    engines: weakref.WeakSet[Engine] = weakref.WeakSet()

    def remember(connection: Any) -> None:
        engines.add(connection.engine)

    event.listen(Engine, "engine_connect", remember)
    try:
        yield
    finally:
        event.remove(Engine, "engine_connect", remember)
        for engine in list(engines):
            engine.dispose()
