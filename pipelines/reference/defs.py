import dagster as dg

from pipelines.reference.assets import reference_tables

defs = dg.Definitions(assets=[reference_tables])
