"""Load the reference tables in seeds/ into the warehouse's `ref` schema."""

from __future__ import annotations

import dagster as dg
import polars as pl

from pipelines.automation.interrupts import stops_when_interrupted
from pipelines.reference.links import current_urns
from pipelines.resources.warehouse import Warehouse
from pipelines.settings import SEEDS_DIR

SEED_TABLES = {
    "schools": "schools.csv",
    "gias_links": "gias_links.csv",
    "spend_categories": "spend_categories.csv",
    "question_bank": "question_bank.csv",
    "partnership_groups": "partnership_groups.csv",
    "group_membership": "group_membership.csv",
}

# Codes such as la_code '201' and ward codes must stay text.
TEXT_COLUMNS = {"la_code", "group_id", "from_year", "to_year", "district_code", "ward_code"}


def read_seed(name: str) -> pl.DataFrame:
    path = SEEDS_DIR / SEED_TABLES[name]
    header = pl.read_csv(path, n_rows=0).columns
    overrides = {c: pl.String for c in header if c in TEXT_COLUMNS}
    return pl.read_csv(path, schema_overrides=overrides, try_parse_dates=True)


@dg.asset(
    key_prefix="ref",
    group_name="reference",
    kinds={"duckdb"},
    description="Reference tables from seeds/: register, GIAS links, groups, codes, "
    "question bank, and each URN's current URN after academy conversions and mergers.",
)
@stops_when_interrupted
def reference_tables(warehouse: Warehouse) -> dg.MaterializeResult:
    counts: dict[str, int] = {}
    with warehouse.transaction() as conn:
        for name in SEED_TABLES:
            frame = read_seed(name)
            conn.register("seed_frame", frame.to_arrow())
            conn.execute(f"CREATE OR REPLACE TABLE ref.{name} AS SELECT * FROM seed_frame")
            conn.unregister("seed_frame")
            counts[name] = frame.height
        current = current_urns(read_seed("schools"), read_seed("gias_links"))
        conn.register("current_frame", current.to_arrow())
        conn.execute("CREATE OR REPLACE TABLE ref.urn_current AS SELECT * FROM current_frame")
        conn.unregister("current_frame")
        counts["urn_current"] = current.height
    return dg.MaterializeResult(metadata={f"rows_{k}": v for k, v in counts.items()})
