"""The audit stage's Dagster definitions (GX validation, publishing gate, auditor bundle)."""

from __future__ import annotations

import dagster as dg

from pipelines.audit.assets import audit_bundle, gx_validation, publish_gate

defs = dg.Definitions(
    assets=[gx_validation, publish_gate, audit_bundle],
)
