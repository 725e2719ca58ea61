"""Dagster asset for the public outputs, and the blocking EES screener check on them."""

# No `from __future__ import annotations`: Dagster inspects the context annotation.
import dagster as dg

from pipelines.audit.assets import BUNDLE, PUBLIC_KEY
from pipelines.automation.interrupts import stops_when_interrupted
from pipelines.automation.partitions import PARTNERSHIP_GROUP, partnership_group_partitions
from pipelines.publish.atomic import switch_to_newest
from pipelines.publish.core import PUBLIC, PublishSummary, publish_public, screen_published
from pipelines.publish.screener import errors
from pipelines.resources.warehouse import Warehouse
from pipelines.settings import ImfSettings

UPSTREAM = [
    dg.AssetKey(["indicators", "published_values"]),
    dg.AssetKey(["indicators", "spend_context"]),
    dg.AssetKey(["indicators", "coverage"]),
    # Great Expectations' critical failures stop publishing here (warnings do not).
    dg.AssetKey(["audit", "publish_gate"]),
    # No publication without its auditor's bundle: this step switches `audit` to the
    # bundle written before it, then `public` to the new outputs (publish/atomic.py).
    BUNDLE,
]


GROUP_REPORTS_KEY = dg.AssetKey(["published", "group_reports"])

# Each group's report, workbook and tables, one partition per group. They are written by
# `published_public` in the same atomic publication (the group pages link to each other and
# to the LA index, so they appear together), which then records each group's files here.
group_reports = dg.AssetSpec(
    GROUP_REPORTS_KEY,
    deps=[PUBLIC_KEY],
    group_name="publish",
    partitions_def=partnership_group_partitions,
    kinds={"html", "xlsx", "csv"},
    description="One partnership group's published folder: its report for the group and "
    "families, its Excel workbook and its tables (only that group's data). Recorded by the "
    "publishing step for every group it publishes.",
)


def _record_group_reports(context: dg.AssetExecutionContext, summary: PublishSummary) -> None:
    groups = sorted(summary.group_reports)
    context.instance.add_dynamic_partitions(PARTNERSHIP_GROUP, groups)
    for gid in groups:
        report = summary.group_reports[gid]
        folder = report.parent
        context.instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=GROUP_REPORTS_KEY,
                partition=gid,
                metadata={
                    "report": dg.MetadataValue.url(report.as_uri()),
                    "folder": dg.MetadataValue.path(str(folder)),
                    "files": dg.MetadataValue.json(sorted(p.name for p in folder.iterdir())),
                    "published_by_run": context.run.run_id,
                },
            )
        )


@dg.asset(
    key=PUBLIC_KEY,
    group_name="publish",
    deps=UPSTREAM,
    kinds={"html", "csv", "parquet"},
    description="EES tables (CSV + meta + Parquet), and for each partnership group its "
    "report, workbook and tables, published atomically under IMF_PUBLISH_DIR/public.",
)
@stops_when_interrupted
def published_public(
    context: dg.AssetExecutionContext, settings: ImfSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    with warehouse.connect(read_only=True) as conn:
        summary = publish_public(
            conn, settings.publish_path, settings.suppression_threshold,
            workers=settings.publish_workers,
            before_switch=lambda: switch_to_newest(settings.publish_path, "audit"))
    metadata: dict[str, dg.RawMetadataValue] = {
        "index": dg.MetadataValue.path(str(summary.index)),
        "index_url": dg.MetadataValue.url(summary.index.as_uri()),
        "groups": len(summary.group_reports),
        # Groups whose inputs were unchanged: their folders were copied, not rendered again.
        "groups_reused": len(summary.reused),
        "ees_files": dg.MetadataValue.json([str(p) for p in summary.ees_files]),
        **{f"rows_{k}": v for k, v in summary.rows.items()},
    }
    for gid, path in summary.group_reports.items():
        metadata[f"report_{gid}"] = dg.MetadataValue.url(path.as_uri())
    context.log.info(
        f"published {len(summary.group_reports)} group reports to {summary.index} "
        f"({len(summary.reused)} unchanged since the last publication, copied)")
    _record_group_reports(context, summary)
    return dg.MaterializeResult(metadata=metadata)


class ScreenerConfig(dg.Config):
    rescreen_all: bool = False
    """Screen every group folder, also those byte-identical to what was screened when they
    were written (the nightly audit sets it)."""


@dg.asset_check(
    asset=PUBLIC_KEY,
    blocking=True,
    description="The EES data screener's rules on the published files (public/ees and each "
    "group's extract; a group folder byte-identical to what was screened when it was "
    "written keeps those findings, unless config rescreen_all, as the nightly audit "
    "sets). Blocking: nothing downstream runs on files DfE would reject.",
)
@stops_when_interrupted
def ees_screener(settings: ImfSettings, config: ScreenerConfig) -> dg.AssetCheckResult:
    public = settings.publish_path / PUBLIC
    if not public.exists():  # the nightly audit before the first publication
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.ERROR,
                                   metadata={"note": "nothing has been published yet"})
    screened = screen_published(public, trust_recorded=not config.rescreen_all)
    failed = errors(screened.findings)
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "findings": len(screened.findings),
            "group_folders_screened": screened.groups_screened,
            # Byte-identical (SHA-256) to the files the screener passed when they were
            # written: their recorded findings stand (pipelines/publish/core.py).
            "group_folders_as_recorded": screened.groups_as_recorded,
            "errors": dg.MetadataValue.md(
                "\n".join(f"- {f}" for f in failed[:50]) or "none"
            ),
        },
    )
