"""Shards: one academic year's models for a set of local authorities, in their own file.

The yearly models are computed per shard, each shard a set of LAs in its own DuckDB file
(`<warehouse>.shards/<yyyy-yy>/<name>.duckdb`), and then assembled into the warehouse in
one transaction. Shards read the warehouse read-only and write only their own file, so
Dagster's multiprocess executor (or `k8s_job_executor`, one pod per shard) can build them
in parallel without contending for the warehouse's single writer; the assembly is the
only write.

How many shards: as many as the run builds at once (one in process, the whole year's LAs
in one file; two under a two-process executor, the LAs split by size between them). A
shard's fixed cost and its reading of the warehouse are paid per shard, and the assembly
copies every shard's rows: at national scale, 152 one-LA shards took 127 s to build and
54 s to assemble against 49 s and 27 s for one shard of every LA (docs/scaling.md).

A resubmission rebuilds only the LAs it touches: their shard replaces exactly their rows
in the warehouse, and every other LA's rows stay as they are (`assemble` with `replacing`),
so no other shard is read or needs to be kept. It may do so only while the models' SQL
and the reference tables are those the year was assembled with (a changed membership can
move a school to another LA); otherwise the plan rebuilds the whole year.

A shard runs the very same SQL models (`run_model`) as a whole-warehouse run would. Its
inputs are views onto the attached warehouse, narrowed to the schools whose figures count
in its LAs that year (`school_la` below), so the models need no change and the union of
the shards equals the whole: every school-year belongs to exactly one LA.

Dagster-free: the assets in yearly.py call these functions, and so can tests and scripts.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.models import (
    Model,
    create_view,
    create_year_table,
    normalise_year,
    relation_shape,
    replace_changed_schools,
)
from pipelines.resources.warehouse import table_exists

# The LA each register school's data count under in one year, keyed by every URN that maps
# to it (a predecessor's URN counts where its successor does). The LA of the partnership
# group the school belongs to that year, else the school's register LA: the same choice
# as models/intermediate/int_school_groups_resolved.sql (whose tie-break is mirrored here:
# the school's own membership row, then the latest period) and models/marts/dim_school_years.sql.
# The assembly refuses a school-year found in two shards, so a drift between the two shows
# up as a failed run, never as a double count.
_SCHOOL_LA = """
CREATE OR REPLACE TABLE main.school_la AS
WITH in_force AS (
    SELECT
        coalesce(c.current_urn, m.urn) AS urn,
        g.la_code
    FROM wh.ref.group_membership AS m
    LEFT JOIN wh.ref.urn_current AS c ON c.urn = m.urn
    JOIN wh.ref.partnership_groups AS g ON g.group_id = m.group_id
    WHERE m.from_year <= $year AND (m.to_year IS NULL OR m.to_year >= $year)
    QUALIFY row_number() OVER (
        PARTITION BY coalesce(c.current_urn, m.urn)
        ORDER BY (m.urn = coalesce(c.current_urn, m.urn)) DESC, m.from_year DESC, m.group_id
    ) = 1
)
SELECT u.urn, u.current_urn, coalesce(f.la_code, s.la_code) AS la_code
FROM wh.ref.urn_current AS u
LEFT JOIN in_force AS f ON f.urn = u.current_urn
LEFT JOIN wh.ref.schools AS s ON s.urn = u.current_urn
"""

_SAFE = re.compile(r"^[A-Za-z0-9_]+$")


# Told after each model table is built or assembled: (table, rows, seconds). A national
# shard builds for a minute and its assembly takes half that; this is how a person
# watching (the UI's log, `imf run`) sees it move and where its time goes.
TableDone = Callable[[str, int, float], None]


def _ignore(table: str, rows: int, seconds: float) -> None:
    pass


class ShardError(RuntimeError):
    """Shards that cannot be built or assembled; the message says which and why."""


@dataclass(frozen=True)
class Shard:
    la_codes: tuple[str, ...]
    path: Path
    rows: dict[str, int]  # model table -> rows
    seconds: float


@dataclass(frozen=True)
class Scope:
    """What a yearly run's assembly replaces: only these LAs' rows, or (None) the whole
    year."""
    replacing: tuple[str, ...] | None = None


def shard_dir(warehouse: Path, academic_year: str) -> Path:
    return Path(str(warehouse) + ".shards") / normalise_year(academic_year).replace("/", "-")


def shard_name(la_codes: Sequence[str], index: int = 1, count: int = 1) -> str:
    """`la_<code>` for one LA; `las_<index>_of_<count>` for one of `count` shards of
    several LAs each. Also the shard step's mapping key in Dagster."""
    for code in la_codes:
        if not _SAFE.match(code):
            raise ShardError(f"{code!r} is not a local authority code")
    if not la_codes:
        raise ShardError("a shard needs at least one local authority")
    return f"la_{la_codes[0]}" if len(la_codes) == 1 else f"las_{index}_of_{count}"


def shard_path(warehouse: Path, academic_year: str, name: str) -> Path:
    if not _SAFE.match(name):
        raise ShardError(f"{name!r} is not a shard name")
    return shard_dir(warehouse, academic_year) / f"{name}.duckdb"


def split(las: Sequence[str], weights: Mapping[str, int], count: int) -> list[list[str]]:
    """The LAs in at most `count` shards of about equal weight (schools with data): the
    heaviest LA first into the lightest shard (of those, the one with fewest LAs).
    Deterministic; each shard sorted; no shard empty."""
    count = max(1, min(count, len(las)))
    shards: list[list[str]] = [[] for _ in range(count)]
    loads = [0] * count
    for la in sorted(las, key=lambda code: (-weights.get(code, 0), code)):
        lightest = min(range(count), key=lambda i: (loads[i], len(shards[i])))
        shards[lightest].append(la)
        loads[lightest] += weights.get(la, 0)
    return sorted((sorted(shard) for shard in shards if shard), key=lambda s: s[0])


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def attach_warehouse(conn: duckdb.DuckDBPyConnection, warehouse: Path,
                     timeout_s: float = 3600) -> None:
    """Attach the warehouse read-only as `wh`, waiting while another process writes it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute(f"ATTACH '{_sql_path(warehouse)}' AS wh (READ_ONLY)")
            return
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def input_tables(models: Sequence[Model]) -> list[str]:
    """Tables the models read that none of them builds: the shard's inputs."""
    built = {m.table for m in models}
    seen: dict[str, None] = {}
    for model in models:
        for table in model.tables:
            if table not in built:
                seen[table] = None
    return list(seen)


def _columns(conn: duckdb.DuckDBPyConnection, catalog: str, table: str) -> set[str]:
    schema, name = table.split(".", 1)
    rows = conn.execute(
        "SELECT column_name FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = ? AND table_name = ?",
        [catalog, schema, name],
    ).fetchall()
    if not rows:
        raise ShardError(f"the warehouse has no table {table} (run ingest first)")
    return {str(r[0]) for r in rows}


def _school_years(conn: duckdb.DuckDBPyConnection, tables: Sequence[str], year: str) -> str:
    """A SELECT of the distinct URNs with rows for `year` in the year-keyed inputs."""
    parts = []
    for table in tables:
        if table.startswith("ref.") or not {"urn", "academic_year"} <= _columns(conn, "wh", table):
            continue
        parts.append(f"SELECT DISTINCT urn FROM wh.{table} WHERE academic_year = '{year}'")
    if not parts:
        raise ShardError("none of the models' inputs holds school-year rows")
    return "\nUNION\n".join(parts)


def local_authorities(conn: duckdb.DuckDBPyConnection, warehouse: Path,
                      models: Sequence[Model], academic_year: str) -> dict[str, int]:
    """The LAs with any school-year data in `academic_year`, for the models' inputs, each
    with its number of schools with data (the weight `split` balances).

    `conn` is a scratch connection (in memory is fine); the warehouse is attached to it.
    """
    year = normalise_year(academic_year)
    attach_warehouse(conn, warehouse)
    try:
        conn.execute(_SCHOOL_LA, {"year": year})
        rows = conn.execute(
            f"SELECT s.urn, l.la_code FROM ({_school_years(conn, input_tables(models), year)}) s "
            "LEFT JOIN main.school_la l USING (urn) ORDER BY l.la_code NULLS FIRST, s.urn"
        ).fetchall()
    finally:
        conn.execute("DETACH wh")
    homeless = [str(urn) for urn, la in rows if la is None]
    if homeless:
        raise ShardError(
            f"{len(homeless)} school(s) with data for {year} have no local authority in the "
            f"register or the partnership groups (URNs {', '.join(homeless[:10])}); "
            "reload the register (`imf register-import`) or fix the membership seed"
        )
    weights: dict[str, int] = {}
    for _, la in rows:
        weights[str(la)] = weights.get(str(la), 0) + 1
    return dict(sorted(weights.items()))


ASSEMBLIES = "audit.yearly_assemblies"


def inputs_fingerprint(conn: duckdb.DuckDBPyConnection, models: Sequence[Model],
                       catalog: str | None = None) -> str:
    """What the year's rows were computed with besides the year's own data: each model's
    SQL and every reference table it reads (a changed group membership can move a school
    to another LA). A resubmission may replace one LA's rows only while this is unchanged
    since the year was assembled; otherwise the whole year is rebuilt."""
    digest = hashlib.sha256()
    for model in models:
        digest.update(f"{model.table}\0{model.materialized}\0{model.select}\0".encode())
    prefix = f"{catalog}." if catalog else ""
    for table in sorted(t for t in input_tables(models) if t.startswith("ref.")):
        row = conn.execute(f"SELECT count(*), sum(hash(t)) FROM {prefix}{table} AS t").fetchone()
        digest.update(f"{table}\0{row}\0".encode())
    return digest.hexdigest()


def assembled_with(conn: duckdb.DuckDBPyConnection, academic_year: str,
                   catalog: str | None = None) -> str | None:
    """The inputs fingerprint the year was last assembled with (None: never, or unknown)."""
    prefix = f"{catalog}." if catalog else ""
    schema, name = ASSEMBLIES.split(".")
    if not table_exists(conn, schema, name, catalog):
        return None
    row = conn.execute(f"SELECT inputs_fingerprint FROM {prefix}{ASSEMBLIES} "
                       "WHERE academic_year = ?", [normalise_year(academic_year)]).fetchone()
    return str(row[0]) if row else None


def can_replace_local_authorities(warehouse: Path, models: Sequence[Model],
                                  academic_year: str) -> bool:
    """Whether a run may replace some LAs' rows of the year and keep the others': the
    year was assembled with the same model SQL and reference tables as now, and every
    model's table is there."""
    with duckdb.connect() as conn:
        attach_warehouse(conn, warehouse)
        recorded = assembled_with(conn, academic_year, "wh")
        if recorded is None or recorded != inputs_fingerprint(conn, models, "wh"):
            return False
        tables = [m.table.split(".", 1) for m in models if not m.is_view]
        return all(table_exists(conn, schema, name, "wh") for schema, name in tables)


def _scope_view(conn: duckdb.DuckDBPyConnection, table: str, year: str) -> str:
    """The SELECT behind one input view: the warehouse table narrowed to this shard.

    The narrowing is a semi-join on the shard's URNs (`main.shard_scope`), not a literal
    IN-list: DuckDB turns the join's build side into a filter inside the table scan and
    skips whole row groups, so a shard reads little more than its own LA's rows. With a
    literal list of a few hundred URNs it filtered after reading every column of every
    row. Measured on the national warehouse (DuckDB 2.0, one thread): reading one LA's
    90k outcome rows took 0.68-0.91 s that way and 0.03-0.04 s as a semi-join; whole
    shard builds, where the models' own work dominates, are 5-9% faster.
    """
    urns = "SELECT urn FROM main.shard_scope"
    columns = _columns(conn, "wh", table)
    where = []
    if table == "ref.group_membership":
        # Only memberships of this LA's schools, so the groups resolved are this LA's.
        return (
            "SELECT m.* FROM wh.ref.group_membership AS m "
            "LEFT JOIN wh.ref.urn_current AS c ON c.urn = m.urn "
            f"WHERE coalesce(c.current_urn, m.urn) IN ({urns})"
        )
    if not table.startswith("ref.") and "urn" in columns:
        where.append(f"urn IN ({urns})")
    if not table.startswith("ref.") and "academic_year" in columns:
        where.append(f"academic_year = '{year}'")
    return f"SELECT * FROM wh.{table}" + (f" WHERE {' AND '.join(where)}" if where else "")


def build_shard(warehouse: Path, models: Sequence[Model], academic_year: str,
                la_codes: Sequence[str], *, name: str | None = None, memory_limit: str = "4GB",
                threads: int = 1, on_table: TableDone = _ignore) -> Shard:
    """Run `models` for these LAs and year into the shard's file (replaced atomically),
    named `name` (default: `shard_name(la_codes)`); `on_table` is told each table built."""
    started = time.perf_counter()
    year = normalise_year(academic_year)
    la_codes = tuple(sorted(la_codes))
    target = shard_path(warehouse, year, name or shard_name(la_codes))
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    scratch.unlink(missing_ok=True)
    # Row order inside a table means nothing here (every reader sorts or aggregates), and
    # not keeping it lets DuckDB insert in parallel.
    conn = duckdb.connect(str(scratch), config={"memory_limit": memory_limit,
                                                "threads": threads,
                                                "preserve_insertion_order": False})
    rows: dict[str, int] = {}
    try:
        attach_warehouse(conn, warehouse)
        conn.execute(_SCHOOL_LA, {"year": year})
        conn.execute(
            "CREATE TABLE main.shard_scope AS SELECT urn FROM main.school_la "
            "WHERE list_contains($las, la_code) UNION SELECT current_urn FROM main.school_la "
            "WHERE list_contains($las, la_code)",
            {"las": list(la_codes)},
        )
        views = input_tables(models)
        for table in views:
            schema = table.split(".", 1)[0]
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            conn.execute(f"CREATE VIEW {table} AS {_scope_view(conn, table, year)}")
        conn.execute("BEGIN TRANSACTION")
        for model in models:
            if model.is_view:  # read by the models after it; not kept in the shard
                create_view(conn, model)
                continue
            table_started = time.perf_counter()
            rows[model.table] = create_year_table(conn, model.table, model.select, year,
                                                  model.path)
            on_table(model.table, rows[model.table], time.perf_counter() - table_started)
        conn.execute("COMMIT")
        # The views name the warehouse, which the shard does not carry with it.
        for table in [*(m.table for m in reversed(models) if m.is_view), *views]:
            conn.execute(f"DROP VIEW {table}")
        conn.execute("DROP TABLE main.school_la")
        conn.execute(
            "CREATE TABLE main.shard_info AS SELECT $year AS academic_year, "
            "unnest($las) AS la_code, now() AS built_at",
            {"year": year, "las": list(la_codes)},
        )
        conn.execute("DETACH wh")
        conn.execute("CHECKPOINT")
    finally:
        conn.close()
    os.replace(scratch, target)
    return Shard(la_codes, target, rows, time.perf_counter() - started)


def shard_tables(path: Path) -> set[str]:
    """The `schema.table` names a shard file holds (empty if it is missing or unreadable)."""
    if not path.exists():
        return set()
    try:
        with duckdb.connect(str(path), read_only=True) as conn:
            rows = conn.execute(
                "SELECT schema_name || '.' || table_name FROM duckdb_tables()"
            ).fetchall()
    except duckdb.Error:
        return set()
    return {str(r[0]) for r in rows}


def remove_shards(warehouse: Path, academic_year: str) -> list[Path]:
    """Remove the year's shard files, and scratch files of killed runs. A shard is read
    only by the assembly of the run that built it, so a new run starts from none."""
    folder = shard_dir(warehouse, academic_year)
    if not folder.exists():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        if ".tmp-" in path.name or path.suffix == ".duckdb":
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def assemble(conn: duckdb.DuckDBPyConnection, models: Sequence[Model], academic_year: str,
             shards: Sequence[Path], scope: Scope | None = None,
             on_table: TableDone = _ignore) -> dict[str, int]:
    """Put the shards' rows for the year into the warehouse, in one transaction.

    `conn` is a warehouse write connection with no open transaction. With the whole year
    in scope (the default) every model's year is replaced by the union of the shards,
    rewriting only the schools whose rows changed (`replace_changed_schools`). With
    `scope.replacing`, only those LAs' rows are replaced by the shards' and every other
    LA's rows stay (see `_replace_local_authorities`). A school-year in two shards is
    refused (see `_SCHOOL_LA`). A view model is (re)defined on the warehouse's tables and
    has no row count in the result. Records the inputs the year was assembled with.
    `on_table` is told each table put in place (before the transaction commits).
    """
    scope = scope or Scope()
    year = normalise_year(academic_year)
    aliases = [f"shard_{i}" for i in range(len(shards))]
    # As in build_shard: insert in parallel (measured at national scale: the largest
    # table's copy and checkpoint take 12 s instead of 21 s). Only for this connection.
    conn.execute("SET preserve_insertion_order = false")
    for alias, path in zip(aliases, shards, strict=True):
        conn.execute(f"ATTACH '{_sql_path(path)}' AS {alias} (READ_ONLY)")
    try:
        _refuse_overlaps(conn, models, aliases, shards)
        conn.execute("BEGIN TRANSACTION")
        try:
            rows = {}
            if scope.replacing is not None:
                _replaced_schools(conn, models, aliases, year, scope.replacing)
            for model in models:
                if model.is_view:
                    create_view(conn, model)
                    continue
                if aliases:
                    select = "\nUNION ALL BY NAME\n".join(
                        f"SELECT * FROM {alias}.{model.table}" for alias in aliases)
                else:  # no data this year: the year is emptied, the table keeps its shape
                    select = model.select
                table_started = time.perf_counter()
                if scope.replacing is None:
                    rows[model.table], _ = replace_changed_schools(conn, model.table, select,
                                                                   year, model.path)
                else:
                    rows[model.table] = _replace_local_authorities(
                        conn, model, select if aliases else None, year, scope.replacing)
                on_table(model.table, rows[model.table], time.perf_counter() - table_started)
            _record_assembly(conn, models, year)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        for alias in aliases:
            conn.execute(f"DETACH {alias}")
    return rows


def _replaced_schools(conn: duckdb.DuckDBPyConnection, models: Sequence[Model],
                      aliases: Sequence[str], year: str, replacing: Sequence[str]) -> None:
    """The schools whose rows a narrowed assembly replaces: those the warehouse's year
    places in the LAs replaced, and those the new shards place there."""
    if "marts.dim_school_years" not in {m.table for m in models}:
        raise ShardError("replacing some local authorities' rows needs marts.dim_school_years "
                         "in the run, to know which schools are theirs")
    shard_urns = "".join(f" UNION SELECT urn FROM {alias}.marts.dim_school_years"
                         for alias in aliases)
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE imf_replaced_schools AS SELECT urn FROM "
        "marts.dim_school_years WHERE academic_year = $y AND list_contains($las, la_code)"
        + shard_urns, {"y": year, "las": list(replacing)})


def _replace_local_authorities(conn: duckdb.DuckDBPyConnection, model: Model,
                               select: str | None, year: str,
                               replacing: Sequence[str]) -> int:
    """Replace the year's rows of the LAs in `replacing` with `select`'s (None: no shard,
    those rows are only removed); every other row stays. Rows are the LAs' by school
    (`urn`) where the table has one, and then only the schools whose rows changed are
    rewritten (`replace_changed_schools`), else by `la_code`. Returns the year's row
    count."""
    shape = relation_shape(conn, model.table)
    columns = {c for c, _ in shape}
    changed_shape = f"{model.table}: the shards' columns differ from the warehouse's; " \
        "rebuild the whole year"
    params: dict[str, object] = {"y": year}
    if "urn" in columns:
        mine = "urn IN (SELECT urn FROM imf_replaced_schools)"
        if select is not None:
            try:  # it compares the shapes itself
                return replace_changed_schools(conn, model.table, select, year, model.path,
                                               within=mine)[0]
            except ValueError as error:
                raise ShardError(changed_shape) from error
    elif "la_code" in columns:
        if select is not None and relation_shape(conn, f"SELECT * FROM ({select})") != shape:
            raise ShardError(changed_shape)
        mine, params["las"] = "list_contains($las, la_code)", list(replacing)
    else:
        raise ShardError(f"{model.table} has neither urn nor la_code: a run can only rebuild "
                         "its whole year, not some local authorities' rows")
    conn.execute(f"DELETE FROM {model.table} WHERE academic_year = $y AND {mine}", params)
    if select is not None:
        conn.execute(f"INSERT INTO {model.table} SELECT * FROM ({select}) "
                     "WHERE academic_year = $y", {"y": year})
    row = conn.execute(f"SELECT count(*) FROM {model.table} WHERE academic_year = $y",
                       {"y": year}).fetchone()
    return int(row[0]) if row else 0


def _record_assembly(conn: duckdb.DuckDBPyConnection, models: Sequence[Model],
                     year: str) -> None:
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {ASSEMBLIES.split('.')[0]}")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {ASSEMBLIES} (academic_year VARCHAR, "
                 "inputs_fingerprint VARCHAR, assembled_at TIMESTAMPTZ)")
    conn.execute(f"DELETE FROM {ASSEMBLIES} WHERE academic_year = ?", [year])
    conn.execute(f"INSERT INTO {ASSEMBLIES} VALUES (?, ?, now())",
                 [year, inputs_fingerprint(conn, models)])


def _refuse_overlaps(conn: duckdb.DuckDBPyConnection, models: Sequence[Model],
                     aliases: Sequence[str], shards: Sequence[Path]) -> None:
    dims = [m for m in models if m.table == "marts.dim_school_years"]
    if len(aliases) < 2 or not dims:
        return
    union = " UNION ALL ".join(
        f"SELECT urn, academic_year, {i} AS shard FROM {alias}.marts.dim_school_years"
        for i, alias in enumerate(aliases))
    clash = conn.execute(
        f"SELECT urn, academic_year, list(shard ORDER BY shard) FROM ({union}) "
        "GROUP BY ALL HAVING count(*) > 1 LIMIT 5"
    ).fetchall()
    if clash:
        urn, year, where = clash[0]
        raise ShardError(
            f"school {urn} ({year}) is in more than one local authority's shard "
            f"({', '.join(shards[i].name for i in where)}): the LA assignment in "
            "pipelines/shards.py has drifted from the models"
        )


def local_authorities_of(warehouse: Path, units: Sequence[tuple[int, str]],
                         timeout_s: float = 5.0) -> dict[str, list[str]]:
    """The LAs whose shards hold these (urn, academic_year) units, by academic year.

    For a resubmission: only these LAs' shards need rebuilding. Raises duckdb.IOException
    if another process is writing the warehouse for longer than `timeout_s`.
    """
    found: dict[str, list[str]] = {}
    years = sorted({normalise_year(year) for _, year in units})
    if not years:
        return found
    with duckdb.connect() as scratch:
        attach_warehouse(scratch, warehouse, timeout_s)
        scratch.execute("CREATE TABLE units(urn BIGINT, academic_year VARCHAR)")
        scratch.executemany("INSERT INTO units VALUES (?, ?)",
                            [(urn, normalise_year(year)) for urn, year in units])
        for year in years:
            scratch.execute(_SCHOOL_LA, {"year": year})
            rows = scratch.execute(
                "SELECT DISTINCT l.la_code FROM units u JOIN main.school_la l USING (urn) "
                "WHERE u.academic_year = $year AND l.la_code IS NOT NULL ORDER BY 1",
                {"year": year},
            ).fetchall()
            found[year] = [str(r[0]) for r in rows]
    return found
