"""Policies applied once to every stage's assets (called from pipelines/definitions.py).

Freshness: the published indicators are expected to be refreshed by the termly run. The
UI shows them as stale when the deadline after a termly run passes without a new
materialisation, which is the question an analyst asks each term ("is what we published
up to date?").
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta

import dagster as dg
from dagster._utils.schedules import get_smallest_cron_interval, is_valid_cron_string

from pipelines.automation.schedules import TIMEZONE

# A week after the default termly run (10 Mar/Jun/Nov 06:00): by then the published
# indicators must have been rebuilt within the last two weeks. Change IMF_FRESHNESS_CRON
# together with IMF_TERMLY_CRON.
DEFAULT_FRESHNESS_CRON = "0 9 17 3,6,11 *"
FRESHNESS_LOWER_BOUND = timedelta(days=14)
PUBLISHED_INDICATORS = dg.AssetKey(["indicators", "published_values"])
PUBLISH_GROUP = "publish"


def published_freshness_policy() -> dg.FreshnessPolicy:
    cron = os.environ.get("IMF_FRESHNESS_CRON", "").strip() or DEFAULT_FRESHNESS_CRON
    if not is_valid_cron_string(cron):
        raise ValueError(f"IMF_FRESHNESS_CRON={cron!r} is not a cron string")
    # Dagster requires the look-back to fit within the cron's shortest interval.
    lower_bound = min(FRESHNESS_LOWER_BOUND, get_smallest_cron_interval(cron))
    return dg.FreshnessPolicy.cron(
        deadline_cron=cron, lower_bound_delta=lower_bound, timezone=TIMEZONE
    )


def is_published(spec: dg.AssetSpec) -> bool:
    return spec.key == PUBLISHED_INDICATORS or spec.group_name == PUBLISH_GROUP


def apply_policies(defs: dg.Definitions) -> dg.Definitions:
    """The stages' definitions with freshness expectations on what gets published.

    Selected by a predicate rather than an AssetSelection, so a stage that has not landed
    yet (no `publish` group) is not an error.
    """
    policy = published_freshness_policy()

    def with_policy(spec: dg.AssetSpec) -> dg.AssetSpec:
        if not is_published(spec):
            return spec
        return dg.apply_freshness_policy(spec, policy, overwrite_existing=False)

    # map_asset_specs is marked preview; it is the documented way to apply a policy once,
    # and dagster is pinned, so its warning would only be noise in every load's log.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=with_policy)
