"""Ingest throughput on a synthetic outcomes file: `uv run python -m tests.ingest.benchmark N`.

Writes an N-row outcomes CSV (distinct valid UPNs, real URNs, ~1% rows with a fault) into
a temporary landing area, ingests it into a temporary warehouse holding the reference
tables, and prints rows per second and peak memory.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl
from stdnum.gb.upn import calc_check_digit

from pipelines.reference.assets import reference_tables
from pipelines.resources.warehouse import Warehouse
from pipelines.settings import ImfSettings
from pipelines.sources.specs import ingest_source


def synthetic_outcomes(rows: int, urns: list[int]) -> pl.DataFrame:
    bodies = [f"{886:03d}{24:02d}{n:07d}" for n in range(rows)]
    upns = [calc_check_digit(b) + b for b in bodies]
    base = pl.DataFrame({"i": pl.int_range(0, rows, eager=True), "upn": upns})
    i = pl.col("i")
    sen = pl.lit(pl.Series(["N", "N", "N", "N", "K", "E"])).gather(i % 6)
    has_sen = sen != "N"
    text = pl.lit(None, pl.String)
    return base.select(
        urn=pl.lit(pl.Series([str(u) for u in urns])).gather(i % len(urns)),
        academic_year=pl.lit("2025/26"),
        upn=pl.col("upn"),
        year_group=pl.lit(pl.Series([str(y) for y in range(1, 12)])).gather(i % 11),
        sen_provision=sen,
        primary_need=pl.when(has_sen).then(pl.lit("SEMH")),
        first_identified_year_group=pl.when(has_sen).then(pl.lit("1")),
        sessions_possible=pl.lit("380"),
        # ~1% faults: attended > possible
        sessions_attended=pl.when(i % 100 == 7).then(pl.lit("400"))
        .otherwise((300 + i % 80).cast(pl.String)),
        base_sessions=pl.lit("0"),
        suspensions=(i % 3).cast(pl.String),
        permanently_excluded=pl.lit("N"),
        plan_targets_set=pl.when(has_sen).then(pl.lit("4")),
        plan_targets_met=pl.when(has_sen).then(pl.lit("2")),
        plan_reviewed_on=pl.when(has_sen).then(pl.lit("12/03/2026")),
        left_roll=pl.lit("N"),
        leaving_reason=text,
        destination=text,
        destination_sustained=text,
        met_expected_standard=text,
    )


def main(rows: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="imf-bench-"))
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    (landing / "outcomes").mkdir(parents=True)
    reference_tables(warehouse=Warehouse(path=str(warehouse)))
    with duckdb.connect(str(warehouse)) as conn:
        urns = [u for (u,) in conn.execute(
            "SELECT urn FROM ref.schools WHERE is_mainstream LIMIT 500").fetchall()]
    started = time.perf_counter()
    synthetic_outcomes(rows, urns).write_csv(landing / "outcomes" / "national.csv")
    size = (landing / "outcomes" / "national.csv").stat().st_size
    print(f"wrote {rows:,} rows ({size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    settings = ImfSettings(landing_dir=str(landing), warehouse=str(warehouse),
                           publish_dir=str(root / "published"), pseudonym_key="bench-key")
    started = time.perf_counter()
    with duckdb.connect(str(warehouse)) as conn:
        summary = ingest_source("outcomes", settings, conn, progress=print)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ingested {summary.rows_read:,} rows ({summary.rows_loaded:,} loaded, "
          f"{summary.rows_quarantined:,} quarantined) in {elapsed:.1f} s = "
          f"{summary.rows_read / elapsed:,.0f} rows/s; peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
