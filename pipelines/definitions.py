"""The Dagster code location: every stage's definitions, merged, policies applied once,
with the jobs, automation and resources."""

from __future__ import annotations

import dagster as dg

from pipelines import model_defs as models
from pipelines.audit import defs as audit
from pipelines.automation import defs as automation
from pipelines.automation.jobs import JOBS
from pipelines.automation.policies import apply_policies
from pipelines.automation.progress import LOGGERS
from pipelines.publish import defs as publish
from pipelines.reference import defs as reference
from pipelines.resources.defs import resource_defs
from pipelines.sources import defs as sources


def build_definitions() -> dg.Definitions:
    stages = apply_policies(
        dg.Definitions.merge(reference.defs, sources.defs, models.defs, audit.defs, publish.defs)
    )
    return dg.Definitions.merge(
        stages,
        # Dagster's console logger plus the progress logger `imf run` configures.
        dg.Definitions(jobs=list(JOBS), loggers=LOGGERS),
        automation.defs,
        resource_defs(),
    )


defs = build_definitions()
