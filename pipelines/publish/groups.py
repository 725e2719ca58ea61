"""Rendering the partnership groups' folders: in worker processes when there are many.

A group's folder (its EES extract, workbook and report) is made from its own rows and the
publication's shared tables only, so groups render independently of one another. At
national scale (685 groups) rendering is nearly nine tenths of publishing, mostly Polars,
xlsxwriter and Jinja driven from Python, so one process uses one core. With
`IMF_PUBLISH_WORKERS` processes the groups render side by side; below
`POOL_FROM_GROUPS` groups to render (an LA's own publication, or a republication that
copies every unchanged group) the pool's start-up, each worker importing Polars,
xlsxwriter and the templates, would cost more than it saves, so they render here.
A group's files are the same bytes whichever process renders them.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipelines.catalog import IndicatorMeta
from pipelines.publish.ees import EesTable
from pipelines.publish.excel import write_workbook
from pipelines.publish.report.model import build_group_view
from pipelines.publish.report.render import render
from pipelines.publish.screener import Finding, screen_folder

# A group's own extract has one partnership group by design.
GROUP_SINGULAR = frozenset({"partnership_group"})
# Fewer groups than this to render: in this process. Measured on the la warehouse (20
# groups, alternated three times): 1.8-2.0 s in process, 2.8-3.0 s with two workers, so
# the pool costs ~2 s to start and saves ~0.045 s a group: it pays from ~45 groups.
POOL_FROM_GROUPS = 60

Missing = dict[str, list[str]]  # source label -> school names


@dataclass(frozen=True)
class SharedTables:
    """What every group's folder is rendered from besides its own rows."""

    outcomes: EesTable
    spend: EesTable
    coverage: EesTable
    catalog: tuple[IndicatorMeta, ...]
    threshold: int


@dataclass(frozen=True)
class GroupJob:
    """One group's folder to render."""

    folder: Path
    gid: str
    label: str
    la_name: str
    tables: tuple[EesTable, ...]  # the group's own rows of each shared table
    missing: Missing | None  # schools that sent nothing, by source; None: unknown


def render_groups(jobs: Sequence[GroupJob], shared: SharedTables, workers: int = 1,
                  pool_from: int = POOL_FROM_GROUPS) -> Iterator[tuple[GroupJob, list[Finding]]]:
    """Render each job's folder; yield each job with the screener's findings, in order."""
    if workers <= 1 or len(jobs) < pool_from:
        for job in jobs:
            yield job, write_group(job, shared)
        return
    # Spawned, not forked: the caller holds a DuckDB connection and Polars' thread pool.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(
            "spawn"), initializer=_adopt, initargs=(shared,)) as pool:
        yield from zip(jobs, pool.map(_write_in_worker, jobs, chunksize=4), strict=True)


_SHARED: SharedTables | None = None  # a worker's copy, sent once when it starts


def _adopt(shared: SharedTables) -> None:
    global _SHARED
    _SHARED = shared


def _write_in_worker(job: GroupJob) -> list[Finding]:
    if _SHARED is None:
        raise RuntimeError("a publishing worker started without the shared tables")
    return write_group(job, _SHARED)


def write_group(job: GroupJob, shared: SharedTables) -> list[Finding]:
    """Render one group's folder: its tables, workbook and report; the screener's findings."""
    folder, gid, threshold = job.folder, job.gid, shared.threshold
    downloads: list[tuple[str, str]] = [(f"{gid}.xlsx", "All tables (Excel)")]
    for t in job.tables:
        for path in t.write(folder):
            kind = ("metadata, CSV" if path.name.endswith(".meta.csv")
                    else "Parquet" if path.suffix == ".parquet" else "CSV")
            downloads.append((path.name, f"{t.title} ({kind})"))
    findings = screen_folder(folder, allow_singular=GROUP_SINGULAR)
    view = build_group_view(gid, job.label, job.la_name, shared.outcomes, shared.spend,
                            shared.coverage, shared.catalog, job.missing, threshold)
    view.downloads = downloads
    notes = [
        ("Group", job.label),
        ("Local authority", job.la_name),
        ("Years", ", ".join(view.years)),
        ("Symbols", "c = hidden to protect privacy (fewer than "
         f"{threshold} children, or would reveal such a number); z = does not apply; "
         "x = not available"),
        ("Spend", "Spend is context for the outcomes, not a measure of success. "
         "It is not ranked."),
        ("Columns", "Row 2 of each sheet describes its column in words; pp = "
         "percentage points."),
    ]
    write_workbook(folder / f"{gid}.xlsx", f"{job.label}: outcomes for children with SEND",
                   notes, list(job.tables))
    (folder / "index.html").write_text(
        render("group.html.j2", g=view, threshold=threshold), encoding="utf-8"
    )
    return findings
