"""Academic-year partitions: new years appear as files for them are ingested."""

from __future__ import annotations

import dagster as dg

ACADEMIC_YEAR = "academic_year"
academic_year_partitions = dg.DynamicPartitionsDefinition(name=ACADEMIC_YEAR)
