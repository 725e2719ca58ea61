"""Local-authority shards: one academic year's models for one LA, in the LA's own file.

The yearly models are computed per local authority, each LA in its own DuckDB file
(`<warehouse>.shards/<yyyy-yy>/la_<code>.duckdb`), and then assembled into the warehouse
in one transaction. Shards read the warehouse read-only and write only their own file, so
Dagster's multiprocess executor (or `k8s_job_executor`, one pod per LA) can build them in
parallel without contending for the warehouse's single writer; the assembly is the only
write. A school's or an LA's resubmission rebuilds only that LA's shard, then re-assembles.

A shard runs the very same SQL models (`run_model`) as a whole-warehouse run would. Its
inputs are views onto the attached warehouse, narrowed to the schools whose figures count
in that LA that year (`school_la` below), so the models need no change and the union of
the shards equals the whole: every school-year belongs to exactly one LA.

Dagster-free: the assets in yearly.py call these functions, and so can tests and scripts.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.models import (
    Model,
    create_view,
    create_year_table,
    normalise_year,
    replace_changed_schools,
)

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


class ShardError(RuntimeError):
    """Shards that cannot be built or assembled; the message says which and why."""


@dataclass(frozen=True)
class Shard:
    la_code: str
    path: Path
    rows: dict[str, int]  # model table -> rows
    seconds: float
    reused: bool = False


def shard_dir(warehouse: Path, academic_year: str) -> Path:
    return Path(str(warehouse) + ".shards") / normalise_year(academic_year).replace("/", "-")


def shard_path(warehouse: Path, academic_year: str, la_code: str) -> Path:
    if not _SAFE.match(la_code):
        raise ShardError(f"{la_code!r} is not a local authority code")
    return shard_dir(warehouse, academic_year) / f"la_{la_code}.duckdb"


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
                      models: Sequence[Model], academic_year: str) -> list[str]:
    """The LAs with any school-year data in `academic_year`, for the models' inputs.

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
    return sorted({str(la) for _, la in rows})


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


def build_shard(warehouse: Path, models: Sequence[Model], academic_year: str, la_code: str,
                *, memory_limit: str = "4GB", threads: int = 1) -> Shard:
    """Run `models` for one LA and year into the LA's shard file (replaced atomically)."""
    started = time.perf_counter()
    year = normalise_year(academic_year)
    target = shard_path(warehouse, year, la_code)
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
            "WHERE la_code = $la UNION SELECT current_urn FROM main.school_la WHERE la_code = $la",
            {"la": la_code},
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
            rows[model.table] = create_year_table(conn, model.table, model.select, year,
                                                  model.path)
        conn.execute("COMMIT")
        # The views name the warehouse, which the shard does not carry with it.
        for table in [*(m.table for m in reversed(models) if m.is_view), *views]:
            conn.execute(f"DROP VIEW {table}")
        conn.execute("DROP TABLE main.school_la")
        conn.execute(
            "CREATE TABLE main.shard_info AS SELECT $year AS academic_year, $la AS la_code, "
            "now() AS built_at",
            {"year": year, "la": la_code},
        )
        conn.execute("DETACH wh")
        conn.execute("CHECKPOINT")
    finally:
        conn.close()
    os.replace(scratch, target)
    return Shard(la_code, target, rows, time.perf_counter() - started)


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


def remove_stale(warehouse: Path, academic_year: str, keep: Sequence[str]) -> list[Path]:
    """Remove the year's shard files of LAs not in `keep`, and scratch files of killed runs."""
    folder = shard_dir(warehouse, academic_year)
    if not folder.exists():
        return []
    wanted = {shard_path(warehouse, academic_year, la).name for la in keep}
    removed = []
    for path in folder.iterdir():
        if ".tmp-" in path.name or (path.suffix == ".duckdb" and path.name not in wanted):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def assemble(conn: duckdb.DuckDBPyConnection, models: Sequence[Model], academic_year: str,
             shards: Sequence[Path]) -> dict[str, int]:
    """Replace the year of every model's warehouse table with the union of the shards.

    `conn` is a warehouse write connection with no open transaction; the whole year
    commits at once. A school-year in two shards is refused (see `_SCHOOL_LA`). Only the
    schools whose rows changed are rewritten (`replace_changed_schools`): after one
    school's resubmission that is one school's rows, not the year's. A view model is
    (re)defined on the warehouse's tables and has no row count in the result.
    """
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
            for model in models:
                if model.is_view:
                    create_view(conn, model)
                    continue
                if aliases:
                    select = "\nUNION ALL BY NAME\n".join(
                        f"SELECT * FROM {alias}.{model.table}" for alias in aliases)
                else:  # no data this year: the year is emptied, the table keeps its shape
                    select = model.select
                rows[model.table], _ = replace_changed_schools(conn, model.table, select,
                                                               year, model.path)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        for alias in aliases:
            conn.execute(f"DETACH {alias}")
    return rows


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
