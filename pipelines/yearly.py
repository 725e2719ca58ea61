"""The year-partitioned models as Dagster assets, built per local authority in parallel.

Every partitioned model (`models/staging|intermediate|marts/*.sql` and `ind_*`) is its own
asset in the UI, with its description, group and lineage; together they are one
graph-backed asset so that one year's run is:

1. `plan_local_authorities`: the LAs with data that year, and of those the LAs to
   rebuild, split into `shards` shards (one mapped step each);
2. `build_la_shard[<name>]`: the models for that shard's LAs into its own file, reading
   the warehouse read-only (pipelines/shards.py), so shards build in parallel under the
   multiprocess executor, or one pod each under `k8s_job_executor`;
3. `assemble_year`: the shards into the warehouse in one transaction (the only write).

Config on `plan_local_authorities`: `shards`, how many shards to split the LAs into (as
many as run at once: one in process); `local_authorities`, rebuild only those LAs and
keep every other LA's rows in the warehouse as they are (the landing sensor sets it for
a resubmission). The plan rebuilds the whole year instead when the models' SQL or the
reference tables have changed since the year was assembled, because a school may then
count in another LA than before.
"""

# No `from __future__ import annotations`: Dagster inspects op signatures at definition time.

import inspect
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.automation.interrupts import stops_when_interrupted
from pipelines.automation.partitions import (
    ACADEMIC_YEAR,
    LOCAL_AUTHORITY,
    academic_year_partitions,
    la_shard_partitions,
)
from pipelines.automation.progress import TableLine
from pipelines.models import Model, column_schema, load_models, normalise_year, ordered
from pipelines.resources.warehouse import Warehouse
from pipelines.settings import MODELS_DIR
from pipelines.shards import (
    Scope,
    Shard,
    TableDone,
    assemble,
    build_shard,
    can_replace_local_authorities,
    local_authorities,
    remove_shards,
    shard_name,
    split,
)

GRAPH_NAME = "models_by_local_authority"
PLAN_OP = "plan_local_authorities"
# Each shard built is recorded as a partition (academic year by LA) of this asset, so the
# UI shows when each LA was last rebuilt, from which run, in which shard file.
LA_SHARDS_KEY = dg.AssetKey(["la_shards", "models_by_local_authority"])


class ShardPlanConfig(dg.Config):
    local_authorities: list[str] = []  # noqa: RUF012 - Dagster copies config defaults
    """Rebuild only these LAs' rows and keep the others' (empty: rebuild every LA)."""
    shards: int = 1
    """How many shards to split the LAs rebuilt into: as many as build at once."""


def output_name(model: Model) -> str:
    return f"{model.layer}__{model.name}"


@cache
def yearly_models(models_dir: Path = MODELS_DIR) -> tuple[Model, ...]:
    return tuple(m for m in ordered(load_models(models_dir)) if m.partitioned)


def _external_inputs(models: Sequence[Model]) -> dict[str, dg.AssetKey]:
    """The assets outside the yearly set that the models read, by graph input name."""
    inside = {m.key for m in models}
    keys = {dep for m in models for dep in m.deps if dep not in inside}
    return {"__".join(key.path): key for key in sorted(keys, key=lambda k: tuple(k.path))}


def _selected(context: dg.OpExecutionContext, models: Sequence[Model]) -> list[Model]:
    keys = context.selected_asset_keys
    return [m for m in models if m.key in keys]


def _log_table(context: dg.OpExecutionContext, verb: str) -> TableDone:
    """Log each model table as it is done: the UI's log and `imf run` show a long shard
    step moving (`pipelines.automation.progress` reads these lines back)."""

    def log(table: str, rows: int, seconds: float) -> None:
        context.log.info(str(TableLine(verb, table, rows, seconds)))

    return log


def build_yearly_asset(models_dir: Path = MODELS_DIR) -> dg.AssetsDefinition:
    models = yearly_models(models_dir)
    inputs = _external_inputs(models)

    @dg.op(
        name=PLAN_OP,
        ins={name: dg.In(dg.Nothing) for name in inputs},
        out={
            "rebuild": dg.DynamicOut(list[str],
                                     description="The LAs of each shard to build."),
            "scope": dg.Out(Scope, description="What the assembly replaces: the whole year "
                            "or only some LAs' rows."),
        },
        description="List the local authorities with data this year and split those to "
        "rebuild into shards: one step each.",
    )
    @stops_when_interrupted
    def plan(
        context: dg.OpExecutionContext, config: ShardPlanConfig, warehouse: Warehouse
    ) -> Iterator[dg.DynamicOutput[list[str]] | dg.Output[Scope]]:
        year = normalise_year(context.partition_key)
        chosen = _selected(context, models)
        path = Path(warehouse.path)
        with duckdb.connect() as scratch:
            weights = local_authorities(scratch, path, chosen, year)
        for removed in remove_shards(path, year):
            context.log.debug(f"removed the earlier shard file {removed.name}")
        known = set(context.instance.get_dynamic_partitions(LOCAL_AUTHORITY))
        if set(weights) - known:
            context.instance.add_dynamic_partitions(LOCAL_AUTHORITY,
                                                    sorted(set(weights) - known))
        asked = sorted(set(config.local_authorities))
        # Asked for every LA with data (one LA's own deployment), the whole year is the
        # same rows, assembled without narrowing each table to those LAs' schools.
        every = set(weights) <= set(asked)
        narrowed = bool(asked) and not every and can_replace_local_authorities(
            path, chosen, year)
        scope = Scope(replacing=tuple(asked) if narrowed else None)
        rebuilt = [la for la in weights if not narrowed or la in asked]
        batches = split(rebuilt, weights, config.shards)
        for index, las in enumerate(batches, start=1):
            yield dg.DynamicOutput(las, output_name="rebuild",
                                   mapping_key=shard_name(las, index, len(batches)))
        if asked and not narrowed and not every:
            context.log.info(f"{year}: rebuilding the whole year, not only "
                             f"{', '.join(asked)}: the models or reference tables changed "
                             "since it was assembled (or it never was)")
        context.log.info(
            f"{year}: {len(weights)} local authorities with data; "
            + (f"replacing the rows of {', '.join(asked)}, keeping the others'" if narrowed
               else "rebuilding every one")
            + f"; {len(batches)} shard(s)")
        yield dg.Output(scope, output_name="scope")

    @dg.op(name="build_la_shard",
           description="Run the year's models for one shard's local authorities into its "
           "file.")
    @stops_when_interrupted
    def build(
        context: dg.OpExecutionContext, warehouse: Warehouse, la_codes: list[str]
    ) -> Shard:
        year = normalise_year(context.partition_key)
        shard = build_shard(Path(warehouse.path), _selected(context, models), year,
                            la_codes, name=context.get_mapping_key(),
                            memory_limit=warehouse.memory_limit, threads=warehouse.threads,
                            on_table=_log_table(context, "built"))
        context.log.info(f"{len(la_codes)} LA(s) ({', '.join(la_codes[:10])}"
                         f"{'…' if len(la_codes) > 10 else ''}): "
                         f"{sum(shard.rows.values()):,} rows in {shard.seconds:.1f} s")
        for la_code in la_codes:
            context.log_event(dg.AssetMaterialization(
                asset_key=LA_SHARDS_KEY,
                partition=dg.MultiPartitionKey(
                    {ACADEMIC_YEAR: context.partition_key, LOCAL_AUTHORITY: la_code}),
                metadata={
                    "path": dg.MetadataValue.path(str(shard.path)),
                    "local_authorities_in_shard": len(la_codes),
                    "seconds": round(shard.seconds, 2),
                },
            ))
        return shard

    @dg.op(
        name="assemble_year",
        out={output_name(m): dg.Out(dg.Nothing, is_required=False) for m in models},
        description="Put the shards' rows for the year into the warehouse, in one "
        "transaction: the whole year, or only the rebuilt LAs' rows.",
    )
    @stops_when_interrupted
    def assemble_op(
        context: dg.OpExecutionContext, warehouse: Warehouse, built: list[Shard],
        scope: Scope,
    ) -> Iterator[dg.Output[None]]:
        year = normalise_year(context.partition_key)
        chosen = _selected(context, models)
        done = sorted(built, key=lambda s: s.la_codes)
        with warehouse.connect() as conn:
            rows = assemble(conn, chosen, year, [s.path for s in done], scope,
                            on_table=_log_table(context, "assembled"))
            schemas = {m.table: column_schema(conn, m.table) for m in chosen}
        las = ", ".join(la for s in done for la in s.la_codes)
        for model in chosen:
            yield dg.Output(
                None,
                output_name(model),
                metadata={
                    **({"dagster/row_count": rows[model.table]} if model.table in rows
                       else {"materialized": "view"}),
                    "dagster/column_schema": schemas[model.table],
                    "academic_year": year,
                    "local_authorities_rebuilt": las or "none",
                    "replaced": "the whole year" if scope.replacing is None
                    else ", ".join(scope.replacing),
                },
            )

    outputs = {output_name(m): dg.GraphOut() for m in models}

    def compose(**upstream: None) -> dict[str, object]:
        rebuild, scope = plan(**upstream)
        built = rebuild.map(build)
        results = assemble_op(built.collect(), scope)
        return dict(zip(outputs, results, strict=True))

    # One graph input per upstream asset: the signature is set so Dagster sees them.
    compose.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in inputs])
    graph = dg.graph(name=GRAPH_NAME, description=__doc__, out=outputs)(compose)
    return dg.AssetsDefinition.from_graph(
        graph,
        keys_by_input_name=inputs,
        keys_by_output_name={output_name(m): m.key for m in models},
        internal_asset_deps={output_name(m): set(m.deps) for m in models},
        partitions_def=academic_year_partitions,
        group_names_by_output_name={output_name(m): m.layer for m in models},
        descriptions_by_output_name={output_name(m): m.description for m in models},
        metadata_by_output_name={
            output_name(m): {"path": str(m.path.relative_to(m.path.parents[2]))}
            for m in models
        },
        tags_by_output_name={
            output_name(m): {"dagster/kind/duckdb": "", "dagster/kind/sql": ""} for m in models
        },
        can_subset=True,
    )


@cache
def yearly_asset(models_dir: Path = MODELS_DIR) -> dg.AssetsDefinition:
    return build_yearly_asset(models_dir)


def la_shards_spec(models_dir: Path = MODELS_DIR) -> dg.AssetSpec:
    """The LA shards as an asset of their own: recorded, partition by partition, by the
    `build_la_shard` steps of the yearly runs (it is not materialised on its own)."""
    return dg.AssetSpec(
        LA_SHARDS_KEY,
        deps=list(_external_inputs(yearly_models(models_dir)).values()),
        group_name="la_shards",
        partitions_def=la_shard_partitions,
        kinds={"duckdb"},
        description="The yearly models of a set of local authorities in one DuckDB file "
        "(`<IMF_WAREHOUSE>.shards/<yyyy-yy>/<name>.duckdb`), built from the warehouse "
        "read-only by a `yearly_models` run, side by side with the run's other shards, "
        "then assembled into the warehouse. Recorded per (year, LA). Working files: "
        "removed when the year is next built, never a source.",
    )
