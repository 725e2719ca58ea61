"""Academic-year partitions: new years appear as files for them are ingested."""

from __future__ import annotations

import dagster as dg

ACADEMIC_YEAR = "academic_year"
academic_year_partitions = dg.DynamicPartitionsDefinition(name=ACADEMIC_YEAR)

# One partition per partnership group with a published report: groups appear as they are
# published, so the UI lists every group's latest report and files.
PARTNERSHIP_GROUP = "partnership_group"
partnership_group_partitions = dg.DynamicPartitionsDefinition(name=PARTNERSHIP_GROUP)
