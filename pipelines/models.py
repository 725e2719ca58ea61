"""The SQL model runner: every `models/<layer>/<name>.sql` becomes a Dagster asset.

A model file holds one SELECT. Its asset key is `[<layer>, <name>]`, its group is the
layer, its description comes from the file's header (for indicators the plain-language
`measures` / `why` / `read` text the report reuses) followed by the SQL, and its
dependencies are the `<schema>.<table>` names the SQL mentions. Tables written by Python
assets (raw, audit, ref) are mapped to those assets here, explicitly; a name nobody writes
is a load-time error naming the file, so a typo cannot silently drop a dependency.

Materialisation:

- partitioned models (staging, intermediate, marts and `ind_*`, unless the header says
  `-- partitioned: false`) replace one academic year in one transaction:
  `DELETE … WHERE academic_year = $y; INSERT … SELECT * FROM (<sql>) WHERE academic_year = $y`,
  so a resubmission for one year re-runs only that year;
- unpartitioned models are `CREATE OR REPLACE TABLE … AS <sql>`;
- a model whose header says `-- materialized: view` is kept as a view of its SELECT
  (every year; nothing stored), for a step that only one model reads and that is cheap
  to compute again: storing it would copy every row twice more (shard and warehouse).

`run_model` does the same without Dagster, for tests and scripts. The Dagster definitions
are in model_defs.py (the yearly models are built per local authority: yearly.py).
"""

# No `from __future__ import annotations`: Dagster inspects the nested asset function's
# annotations at definition time and needs real classes, not strings.

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.automation.interrupts import stops_when_interrupted
from pipelines.catalog import parse_header
from pipelines.resources.warehouse import Warehouse, first_row, relation_type, table_exists
from pipelines.settings import MODELS_DIR

LAYERS = ("staging", "intermediate", "marts", "indicators")
MATERIALIZATIONS = ("table", "view")
PARTITIONED_LAYERS = ("staging", "intermediate", "marts")
SOURCES = ("spend", "allocations", "outcomes", "voice")
RAW_KEYS = tuple(dg.AssetKey(["raw", source]) for source in SOURCES)
REFERENCE_KEY = dg.AssetKey(["ref", "reference_tables"])

# Tables written by Python assets, and the assets that write them. The submission log and
# units are written by every ingest asset, so a model reading them depends on all four.
PYTHON_TABLES: dict[str, tuple[dg.AssetKey, ...]] = {
    **{f"raw.{source}": (dg.AssetKey(["raw", source]),) for source in SOURCES},
    "audit.submission_units": RAW_KEYS,
    "audit.submission_log": RAW_KEYS,
    "indicators.published_values": (dg.AssetKey(["indicators", "published_values"]),),
}
# The staging tables of docs/warehouse.md: known even before their model files exist, so
# the downstream models load while the ingest side is still being written.
DOCUMENTED_STAGING = (
    "stg_outcomes__pupil_years",
    "stg_voice__responses",
    "stg_spend__lines",
    "stg_allocations__allocations",
)
REF_TABLES = (
    "schools",
    "gias_links",
    "urn_current",
    "spend_categories",
    "question_bank",
    "partnership_groups",
    "group_membership",
)

_SCHEMAS = ("ref", "raw", "audit", *LAYERS)
_TABLE_REF = re.compile(
    r"(?<![\w.\"])(" + "|".join(_SCHEMAS) + r")\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE
)
_LINE_COMMENT = re.compile(r"--[^\n]*")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_STRING = re.compile(r"'(?:[^']|'')*'")
_YEAR = re.compile(r"^(\d{4})[/-](\d{2})$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class ModelError(ValueError):
    """A model file that cannot be turned into an asset (names the file)."""


@dataclass(frozen=True)
class Model:
    """One SQL model file."""

    layer: str
    name: str
    path: Path
    sql: str
    header: dict[str, str]
    tables: tuple[str, ...]  # the `schema.table` names the SQL reads
    deps: tuple[dg.AssetKey, ...] = field(default=())
    partitioned: bool = True
    materialized: str = "table"  # or "view"

    @property
    def is_view(self) -> bool:
        return self.materialized == "view"

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey([self.layer, self.name])

    @property
    def select(self) -> str:
        """The SELECT without trailing comment lines or semicolons, so that it can be
        wrapped in parentheses (a trailing `-- …` would comment out the closing one)."""
        lines = self.sql.rstrip().splitlines()
        while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("--")):
            lines.pop()
        text = "\n".join(lines).rstrip()
        while text.endswith(";"):
            text = text[:-1].rstrip()
        return text

    @property
    def description(self) -> str:
        h = self.header
        if self.layer == "indicators" and "id" in h:
            parts = [
                f"**{h.get('title', h['id'])}** ({h.get('kind', 'person')})",
                f"What it measures: {h.get('measures', '')}",
                f"Why it matters: {h.get('why', '')}",
                f"How to read it: {h.get('read', '')}",
            ]
            if "source" in h:
                parts.append(f"Source: {h['source']}")
            text = "\n\n".join(parts)
        else:
            text = h.get("description") or _leading_comment(self.sql) or self.table
        return f"{text}\n\n```sql\n{self.sql.strip()}\n```"


def _leading_comment(sql: str) -> str:
    """The file's opening `--` comment block as prose (for models without a header)."""
    lines = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return " ".join(line for line in lines if line)


def _strip_sql_noise(sql: str) -> str:
    """SQL without comments and string literals, so only real table names are matched."""
    sql = _BLOCK_COMMENT.sub(" ", sql)
    sql = _LINE_COMMENT.sub(" ", sql)
    return _STRING.sub("''", sql)


def referenced_tables(sql: str) -> tuple[str, ...]:
    """The distinct `schema.table` names a SELECT mentions, lower-cased, in order."""
    seen: dict[str, None] = {}
    for match in _TABLE_REF.finditer(_strip_sql_noise(sql)):
        seen[f"{match.group(1).lower()}.{match.group(2).lower()}"] = None
    return tuple(seen)


def _is_partitioned(layer: str, name: str, header: dict[str, str]) -> bool:
    flag = header.get("partitioned", "").strip().lower()
    if flag in ("false", "no"):
        return False
    if flag in ("true", "yes"):
        return True
    return layer in PARTITIONED_LAYERS or (layer == "indicators" and name.startswith("ind_"))


def _resolve(table: str, model_tables: set[str], path: Path) -> tuple[dg.AssetKey, ...]:
    schema, name = table.split(".", 1)
    if table in model_tables:
        return (dg.AssetKey([schema, name]),)
    if table in PYTHON_TABLES:
        return PYTHON_TABLES[table]
    if schema == "ref" and name in REF_TABLES:
        return (REFERENCE_KEY,)
    if schema == "staging" and name in DOCUMENTED_STAGING:
        return (dg.AssetKey([schema, name]),)
    raise ModelError(
        f"{path}: reads {table}, which no model in models/ and no Python asset writes "
        "(check the spelling, or map the table in pipelines/models.py)"
    )


def load_models(models_dir: Path = MODELS_DIR) -> list[Model]:
    """Every model under models/<layer>/, in layer then file-name order."""
    paths = [path for layer in LAYERS for path in sorted((models_dir / layer).glob("*.sql"))]
    model_tables = {f"{p.parent.name}.{p.stem}" for p in paths}
    models = []
    for path in paths:
        layer, name = path.parent.name, path.stem
        if not _IDENTIFIER.match(name):
            raise ModelError(f"{path}: a model's file name must be a lower-case SQL identifier")
        sql = path.read_text(encoding="utf-8")
        if not _strip_sql_noise(sql).strip():
            raise ModelError(f"{path}: the file holds no SQL")
        header = parse_header(sql)
        tables = tuple(t for t in referenced_tables(sql) if t != f"{layer}.{name}")
        materialized = header.get("materialized", "table").strip().lower()
        if materialized not in MATERIALIZATIONS:
            raise ModelError(f"{path}: `materialized: {materialized}` is not one of "
                             f"{', '.join(MATERIALIZATIONS)}")
        deps: dict[dg.AssetKey, None] = {}
        for table in tables:
            for key in _resolve(table, model_tables, path):
                deps[key] = None
        models.append(
            Model(
                layer=layer,
                name=name,
                path=path,
                sql=sql,
                header=header,
                tables=tables,
                deps=tuple(deps),
                partitioned=_is_partitioned(layer, name, header),
                materialized=materialized,
            )
        )
    # The yearly job runs only year-partitioned assets, so a partitioned model reading an
    # unpartitioned one would read a table that job never builds.
    unpartitioned = {m.key for m in models if not m.partitioned}
    for model in models:
        stale = [d.to_user_string() for d in model.deps if d in unpartitioned]
        if model.partitioned and stale:
            raise ModelError(
                f"{model.path}: partitioned by year but reads unpartitioned {', '.join(stale)}"
            )
    return models


def normalise_year(partition_key: str) -> str:
    """'2025/26' (or '2025-26') as the warehouse spells it; anything else is refused."""
    match = _YEAR.match(partition_key.strip())
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise ValueError(f"{partition_key!r} is not an academic year like 2025/26")
    return f"{match.group(1)}/{match.group(2)}"




def relation_shape(conn: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """(column, type) of a table, view or parenthesised SELECT, in order."""
    return [(str(r[0]), str(r[1])) for r in conn.execute(f"DESCRIBE {relation}").fetchall()]


def _partitioned_shape(conn: duckdb.DuckDBPyConnection, select: str,
                       path: Path) -> list[tuple[str, str]]:
    """The SELECT's columns and types; a model without academic_year is refused by name."""
    shape = relation_shape(conn, f"SELECT * FROM (\n{select}\n)")
    if "academic_year" not in {column for column, _ in shape}:
        raise ModelError(f"{path}: a partitioned model must output academic_year")
    return shape


def replace_year(
    conn: duckdb.DuckDBPyConnection, table: str, select: str, academic_year: str, path: Path
) -> int:
    """Replace one academic year of `table` with the rows of `select` for that year.

    The table is created empty from the SELECT's own shape the first time, and recreated
    when the SELECT's columns changed (the other years then need re-running, which the row
    counts show). Returns the year's row count. No transaction of its own: callers wrap it.
    Used for a model run on the warehouse (a new shard file uses `create_year_table`).
    """
    year = normalise_year(academic_year)
    schema, name = table.split(".", 1)
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    wanted = _partitioned_shape(conn, select, path)
    if not table_exists(conn, schema, name) or relation_shape(conn, table) != wanted:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} AS SELECT * FROM (\n{select}\n) LIMIT 0")
    params = {"imf_academic_year": year}
    conn.execute(f"DELETE FROM {table} WHERE academic_year = $imf_academic_year", params)
    conn.execute(
        f"INSERT INTO {table} SELECT * FROM (\n{select}\n) "
        "WHERE academic_year = $imf_academic_year",
        params,
    )
    row = first_row(
        conn, f"SELECT count(*) FROM {table} WHERE academic_year = $imf_academic_year", params
    )
    return int(row[0]) if row else 0


def create_year_table(
    conn: duckdb.DuckDBPyConnection, table: str, select: str, academic_year: str, path: Path
) -> int:
    """`replace_year` for a table that does not exist yet (a new shard file): one
    statement instead of five, the same rows and column types. Returns the row count.

    A shard file is always new, and at national scale its models run 152 times a year:
    the statements `replace_year` needs to find and keep an existing table's shape were
    a third of a small LA's shard (measured: docs/scaling.md)."""
    year = normalise_year(academic_year)
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.', 1)[0]}")
    try:
        rows = conn.execute(
            f"CREATE TABLE {table} AS SELECT * FROM (\n{select}\n) "
            "WHERE academic_year = $imf_academic_year",
            {"imf_academic_year": year},
        ).fetchall()
    except duckdb.BinderException:
        _partitioned_shape(conn, select, path)  # a model without academic_year, by name
        raise
    return int(rows[0][0]) if rows else 0


def _changed_schools_sql(table: str, select: str, columns: str, within: str = "TRUE") -> str:
    """The schools (by `urn`) of one year whose rows differ between `table` (only its rows
    `within`) and `select`: their row counts or the sums of their rows' hashes differ
    (columns in table order)."""
    def per_school(source: str, where: str = "TRUE") -> str:
        return (f"SELECT urn, count(*) AS n, sum(hash(r)) AS h FROM (SELECT {columns} "
                f"FROM {source} WHERE academic_year = $imf_academic_year AND {where}) AS r "
                "GROUP BY urn")
    return f"""
CREATE OR REPLACE TEMP TABLE imf_changed_schools AS
WITH new AS ({per_school(f"({chr(10)}{select}{chr(10)})")}),
old AS ({per_school(table, within)})
SELECT coalesce(new.urn, old.urn) AS urn
FROM new FULL OUTER JOIN old ON new.urn IS NOT DISTINCT FROM old.urn
WHERE new.n IS DISTINCT FROM old.n OR new.h IS DISTINCT FROM old.h
"""


_IS_CHANGED = ("(urn IN (SELECT urn FROM imf_changed_schools) OR (urn IS NULL AND EXISTS "
               "(SELECT 1 FROM imf_changed_schools WHERE urn IS NULL)))")


def replace_changed_schools(
    conn: duckdb.DuckDBPyConnection, table: str, select: str, academic_year: str, path: Path,
    within: str | None = None,
) -> tuple[int, int]:
    """Like `replace_year`, but rewrite only the schools whose rows for the year changed.

    The result is the same table as `replace_year` gives: a school whose rows are the same
    multiset of values on both sides (same count, same sum of row hashes) is left as it
    is, every other school's rows for the year are deleted and inserted from `select`.
    When one school resubmits, that is a few hundred rows written instead of the year.
    Falls back to `replace_year` when the table is new, has no `urn` column, or its shape
    differs. Returns (the year's row count, the number of schools rewritten; -1 when the
    whole year was). No transaction of its own: callers wrap it.

    With `within` (a condition on the table's rows, e.g. the schools of some LAs), only
    the year's rows it holds are replaced by `select`'s and every other row stays; the
    table must then exist with `select`'s columns and a `urn` (ValueError otherwise).
    """
    year = normalise_year(academic_year)
    schema, name = table.split(".", 1)
    wanted = relation_shape(conn, f"SELECT * FROM (\n{select}\n)")
    if (not table_exists(conn, schema, name) or relation_shape(conn, table) != wanted
            or "urn" not in {column for column, _ in wanted}):
        if within is not None:
            raise ValueError(f"{table}: only some rows can be replaced when the table has "
                             "the SELECT's columns and a urn")
        return replace_year(conn, table, select, year, path), -1
    columns = ", ".join(f'"{column}"' for column, _ in wanted)
    params = {"imf_academic_year": year}
    conn.execute(_changed_schools_sql(table, select, columns, within or "TRUE"), params)
    changed = (first_row(conn, "SELECT count(*) FROM imf_changed_schools") or (0,))[0]
    if changed:
        conn.execute(f"DELETE FROM {table} WHERE academic_year = $imf_academic_year "
                     f"AND {_IS_CHANGED}", params)
        conn.execute(f"INSERT INTO {table} SELECT * FROM (\n{select}\n) "
                     f"WHERE academic_year = $imf_academic_year AND {_IS_CHANGED}", params)
    conn.execute("DROP TABLE imf_changed_schools")
    row = first_row(conn, f"SELECT count(*) FROM {table} "
                    "WHERE academic_year = $imf_academic_year", params)
    return int(row[0]) if row else 0, int(changed)


def create_view(conn: duckdb.DuckDBPyConnection, model: Model) -> None:
    """Define a view model (`materialized: view`) on `conn`, replacing a table of its name
    (stored by an earlier version) or an older definition. No transaction of its own."""
    schema, name = model.table.split(".", 1)
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    if relation_type(conn, schema, name) == "BASE TABLE":
        conn.execute(f"DROP TABLE {model.table}")
    conn.execute(f"CREATE OR REPLACE VIEW {model.table} AS\n{model.select}\n")
    if model.partitioned:
        _partitioned_shape(conn, f"SELECT * FROM {model.table}", model.path)


def run_model(
    conn: duckdb.DuckDBPyConnection, model: Model, academic_year: str | None = None
) -> int:
    """Materialise one model on `conn` and return its row count (for the year, if given).

    Does not open a transaction itself: the asset wraps it in the warehouse's transaction,
    and a test can call it on a plain connection.
    """
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {model.layer}")
    if model.is_view:
        create_view(conn, model)
        if academic_year is None:
            row = first_row(conn, f"SELECT count(*) FROM {model.table}")
        else:
            row = first_row(conn, f"SELECT count(*) FROM {model.table} WHERE academic_year "
                            "= $y", {"y": normalise_year(academic_year)})
        return int(row[0]) if row else 0
    if not model.partitioned:
        if academic_year is not None:
            raise ValueError(f"{model.table} is not partitioned; run it without a year")
        conn.execute(f"CREATE OR REPLACE TABLE {model.table} AS {model.select}\n")
        row = first_row(conn, f"SELECT count(*) FROM {model.table}")
        return int(row[0]) if row else 0
    if academic_year is None:
        raise ValueError(f"{model.table} is partitioned by academic year; give a year")
    return replace_year(conn, model.table, model.select, academic_year, model.path)


def run_models(
    conn: duckdb.DuckDBPyConnection,
    models: Iterable[Model],
    academic_years: Sequence[str],
) -> None:
    """Run models in the given (dependency-respecting) order: each partitioned one for every
    year, each unpartitioned one once. For tests and scripts."""
    for model in models:
        if model.partitioned:
            for year in academic_years:
                run_model(conn, model, year)
        else:
            run_model(conn, model)


def ordered(models: Sequence[Model]) -> list[Model]:
    """Models in dependency order (a model after every model it reads)."""
    by_key = {m.key: m for m in models}
    done: dict[dg.AssetKey, Model] = {}
    visiting: set[dg.AssetKey] = set()

    def visit(model: Model) -> None:
        if model.key in done:
            return
        if model.key in visiting:
            raise ModelError(f"{model.path}: models read each other in a cycle")
        visiting.add(model.key)
        for dep in model.deps:
            if dep in by_key:
                visit(by_key[dep])
        visiting.discard(model.key)
        done[model.key] = model

    for model in models:
        visit(model)
    return list(done.values())


def column_schema(conn: duckdb.DuckDBPyConnection, table: str) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=name, type=kind) for name, kind in relation_shape(conn, table)]
    )


def build_asset(model: Model) -> dg.AssetsDefinition:
    if model.partitioned:
        raise ModelError(f"{model.path}: year-partitioned models are built by yearly.py")

    """The Dagster asset that materialises one unpartitioned model (`CREATE OR REPLACE`)."""

    @dg.asset(
        key=model.key,
        deps=list(model.deps),
        group_name=model.layer,
        description=model.description,
        kinds={"duckdb", "sql"},
        metadata={"path": str(model.path.relative_to(model.path.parents[2]))},
    )
    @stops_when_interrupted
    def _asset(warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.transaction() as conn:
            rows = run_model(conn, model)
            schema = column_schema(conn, model.table)
        return dg.MaterializeResult(
            metadata={"dagster/row_count": rows, "dagster/column_schema": schema})

    return _asset
