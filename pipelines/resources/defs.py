"""The resources every asset gets, built from the IMF_* environment."""

from __future__ import annotations

import dagster as dg

from pipelines.resources.warehouse import Warehouse
from pipelines.settings import ImfSettings, env


def resource_defs() -> dg.Definitions:
    settings = ImfSettings.from_env()
    return dg.Definitions(
        resources={
            "settings": settings,
            "warehouse": Warehouse(path=env("IMF_WAREHOUSE"),
                                   memory_limit=env("IMF_DUCKDB_MEMORY_LIMIT")),
        }
    )
