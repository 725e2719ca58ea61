"""Publishing: the public outputs asset and its blocking EES screener check."""

import dagster as dg

from pipelines.publish.assets import ees_screener, group_reports, published_public

defs = dg.Definitions(assets=[published_public, group_reports], asset_checks=[ees_screener])
