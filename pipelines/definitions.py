"""The Dagster code location: every stage's definitions, merged, with the resources."""

from __future__ import annotations

import dagster as dg

from pipelines import models
from pipelines.audit import defs as audit
from pipelines.automation import defs as automation
from pipelines.publish import defs as publish
from pipelines.reference import defs as reference
from pipelines.resources.defs import resource_defs
from pipelines.sources import defs as sources

defs = dg.Definitions.merge(
    reference.defs,
    sources.defs,
    models.defs,
    audit.defs,
    publish.defs,
    automation.defs,
    resource_defs(),
)
