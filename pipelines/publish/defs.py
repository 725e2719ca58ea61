"""Publishing: the public outputs asset and its blocking EES screener check."""

import dagster as dg

from pipelines.publish.assets import ees_screener, published_public

defs = dg.Definitions(assets=[published_public], asset_checks=[ees_screener])
