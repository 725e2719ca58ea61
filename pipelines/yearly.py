"""The year-partitioned models as Dagster assets, built per local authority in parallel.

Every partitioned model (`models/staging|intermediate|marts/*.sql` and `ind_*`) is its own
asset in the UI, with its description, group and lineage; together they are one
graph-backed asset so that one year's run is:

1. `plan_local_authorities`: the LAs with data that year, and of those the LAs whose shard
   is rebuilt (one mapped step each) and those whose shard is reused as it is;
2. `build_la_shard[la_<code>]`: the models for that LA into its own shard file, reading the
   warehouse read-only (pipelines/shards.py), so LAs build in parallel under the
   multiprocess executor, or one pod each under `k8s_job_executor`;
3. `assemble_year`: the shards, rebuilt and reused, into the warehouse in one transaction
   (the only write).

Config `local_authorities` on `plan_local_authorities` rebuilds only those LAs' shards and
reuses the others (the landing sensor sets it for a resubmission); by default every LA's
shard is rebuilt. A reused shard has no step of its own: at national scale a
resubmission's run would otherwise start ~150 steps that do nothing (measured: see
docs/scaling.md).
"""

# No `from __future__ import annotations`: Dagster inspects op signatures at definition time.

import inspect
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.automation.partitions import (
    ACADEMIC_YEAR,
    LOCAL_AUTHORITY,
    academic_year_partitions,
    la_shard_partitions,
)
from pipelines.models import Model, column_schema, load_models, normalise_year, ordered
from pipelines.resources.warehouse import Warehouse
from pipelines.settings import MODELS_DIR
from pipelines.shards import (
    Shard,
    assemble,
    build_shard,
    local_authorities,
    remove_stale,
    shard_path,
    shard_tables,
)

GRAPH_NAME = "models_by_local_authority"
PLAN_OP = "plan_local_authorities"
# Each shard built is recorded as a partition (academic year by LA) of this asset, so the
# UI shows which LA's shard was built when, from which run, with its row counts.
LA_SHARDS_KEY = dg.AssetKey(["la_shards", "models_by_local_authority"])


class ShardPlanConfig(dg.Config):
    local_authorities: list[str] = []  # noqa: RUF012 - Dagster copies config defaults
    """Rebuild only these LAs' shards and reuse the others' (empty: rebuild every LA)."""


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


def build_yearly_asset(models_dir: Path = MODELS_DIR) -> dg.AssetsDefinition:
    models = yearly_models(models_dir)
    inputs = _external_inputs(models)

    @dg.op(
        name=PLAN_OP,
        ins={name: dg.In(dg.Nothing) for name in inputs},
        out={
            "rebuild": dg.DynamicOut(str, description="The LAs whose shard is rebuilt."),
            "reused": dg.Out(list[Shard], description="The shards reused as they are."),
        },
        description="List the local authorities with data this year: one shard step for "
        "each LA to rebuild; the others' shards are reused.",
    )
    def plan(
        context: dg.OpExecutionContext, config: ShardPlanConfig, warehouse: Warehouse
    ) -> Iterator[dg.DynamicOutput[str] | dg.Output[list[Shard]]]:
        year = normalise_year(context.partition_key)
        chosen = _selected(context, models)
        with duckdb.connect() as scratch:
            las = local_authorities(scratch, Path(warehouse.path), chosen, year)
        for path in remove_stale(Path(warehouse.path), year, las):
            context.log.info(f"removed {path.name} (no longer has data for {year})")
        known = set(context.instance.get_dynamic_partitions(LOCAL_AUTHORITY))
        if set(las) - known:
            context.instance.add_dynamic_partitions(LOCAL_AUTHORITY, sorted(set(las) - known))
        wanted = {m.table for m in chosen if not m.is_view}  # views are not kept in shards
        only = set(config.local_authorities)
        reused = []
        for la in las:
            path = shard_path(Path(warehouse.path), year, la)
            if only and la not in only and wanted <= shard_tables(path):
                reused.append(Shard(la, path, rows={}, seconds=0.0, reused=True))
            else:
                yield dg.DynamicOutput(la, output_name="rebuild", mapping_key=f"la_{la}")
        context.log.info(
            f"{year}: {len(las)} local authorities: {', '.join(las) or 'none'}; "
            + (f"shards reused: {', '.join(s.la_code for s in reused)}" if reused
               else "every shard rebuilt"))
        yield dg.Output(reused, output_name="reused")

    @dg.op(name="build_la_shard",
           description="Run the year's models for one local authority into its shard file.")
    def build(
        context: dg.OpExecutionContext, warehouse: Warehouse, la_code: str
    ) -> Shard:
        shard = build_shard(Path(warehouse.path), _selected(context, models),
                            normalise_year(context.partition_key), la_code,
                            memory_limit=warehouse.memory_limit, threads=warehouse.threads)
        context.log.info(
            f"LA {la_code}: {sum(shard.rows.values()):,} rows in {shard.seconds:.1f} s")
        context.log_event(dg.AssetMaterialization(
            asset_key=LA_SHARDS_KEY,
            partition=dg.MultiPartitionKey(
                {ACADEMIC_YEAR: context.partition_key, LOCAL_AUTHORITY: la_code}),
            metadata={
                "path": dg.MetadataValue.path(str(shard.path)),
                "seconds": round(shard.seconds, 2),
                "rows": dg.MetadataValue.md("\n".join(
                    ["| table | rows |", "|---|---:|"]
                    + [f"| {table} | {rows:,} |" for table, rows in shard.rows.items()])),
            },
        ))
        return shard

    @dg.op(
        name="assemble_year",
        out={output_name(m): dg.Out(dg.Nothing, is_required=False) for m in models},
        description="Replace the year in the warehouse with the union of the LA shards, "
        "in one transaction.",
    )
    def assemble_op(
        context: dg.OpExecutionContext, warehouse: Warehouse, built: list[Shard],
        reused: list[Shard],
    ) -> Iterator[dg.Output[None]]:
        year = normalise_year(context.partition_key)
        chosen = _selected(context, models)
        done = sorted([*built, *reused], key=lambda s: s.la_code)
        with warehouse.connect() as conn:
            rows = assemble(conn, chosen, year, [s.path for s in done])
            schemas = {m.table: column_schema(conn, m.table) for m in chosen}
        las = ", ".join(s.la_code + (" (reused)" if s.reused else "") for s in done)
        for model in chosen:
            yield dg.Output(
                None,
                output_name(model),
                metadata={
                    **({"dagster/row_count": rows[model.table]} if model.table in rows
                       else {"materialized": "view"}),
                    "dagster/column_schema": schemas[model.table],
                    "academic_year": year,
                    "local_authorities": las or "none",
                },
            )

    outputs = {output_name(m): dg.GraphOut() for m in models}

    def compose(**upstream: None) -> dict[str, object]:
        rebuild, reused = plan(**upstream)
        built = rebuild.map(build)
        results = assemble_op(built.collect(), reused)
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
        description="One DuckDB file per academic year and local authority "
        "(`<IMF_WAREHOUSE>.shards/<yyyy-yy>/la_<code>.duckdb`): that LA's yearly models, "
        "built from the warehouse read-only by a `yearly_models` run, side by side with "
        "the other LAs', then assembled into the warehouse. Working files: rebuilt when "
        "needed, never a source.",
    )
