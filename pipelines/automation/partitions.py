"""Academic-year partitions: new years appear as files for them are ingested."""

from __future__ import annotations

import dagster as dg

ACADEMIC_YEAR = "academic_year"
academic_year_partitions = dg.DynamicPartitionsDefinition(name=ACADEMIC_YEAR)

# One partition per partnership group with a published report: groups appear as they are
# published, so the UI lists every group's latest report and files.
PARTNERSHIP_GROUP = "partnership_group"
partnership_group_partitions = dg.DynamicPartitionsDefinition(name=PARTNERSHIP_GROUP)

# Local authorities appear as their schools' data are modelled; with the academic year
# they key the LA shards (pipelines/shards.py), one partition per year and LA.
LOCAL_AUTHORITY = "local_authority"
local_authority_partitions = dg.DynamicPartitionsDefinition(name=LOCAL_AUTHORITY)
la_shard_partitions = dg.MultiPartitionsDefinition(
    {ACADEMIC_YEAR: academic_year_partitions, LOCAL_AUTHORITY: local_authority_partitions}
)
