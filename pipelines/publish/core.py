"""Publish the public outputs: EES tables, Parquet, a workbook and a report per group.

`publish_public` is the whole job and needs no Dagster: the asset in `assets.py` calls
it. Everything is written into a fresh folder that replaces `<publish_dir>/public` only
once it is complete and has passed the screener (see `atomic.py`), so readers never see
half a publication or files that would fail at DfE.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipelines.catalog import IndicatorMeta, indicator_catalog
from pipelines.publish.atomic import atomic_folder
from pipelines.publish.ees import (
    GROUP_KEY,
    NUMBER,
    SOURCE_LABELS,
    EesTable,
    Geography,
    academic_year,
    coverage_table,
    outcome_table,
    spend_table,
)
from pipelines.publish.groups import (
    GROUP_SINGULAR,
    POOL_FROM_GROUPS,
    GroupJob,
    Missing,
    SharedTables,
    render_groups,
)
from pipelines.publish.report.render import render
from pipelines.publish.reuse import (
    GroupRecord,
    as_recorded,
    copy_if_unchanged,
    fingerprint,
    frame_text,
    read_manifest,
    record_folder,
    write_manifest,
)
from pipelines.publish.screener import Finding, errors, screen_folder
from pipelines.resources.warehouse import table_exists

PUBLIC = "public"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class ScreenerFailed(RuntimeError):
    """The files would fail the EES screener: nothing was published."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        shown = "\n".join(str(f) for f in self.findings[:20])
        super().__init__(f"{len(self.findings)} EES screener finding(s):\n{shown}")


class DisclosureRisk(RuntimeError):
    """A published cell breaks the primary suppression rule: nothing was published."""


@dataclass
class PublishSummary:
    public_dir: Path
    index: Path
    group_reports: dict[str, Path] = field(default_factory=dict)
    ees_files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)  # groups whose folder was carried over


def assert_no_small_cells(table: EesTable, threshold: int) -> None:
    """Refuse to publish a person-level count or rate below the disclosure threshold.

    Disclosure control happens upstream; this is the last line, so a bug there cannot
    reach the public folder.
    """
    ci_cols = [m.col_name for m in table.meta if m.col_name.endswith("_ci_lower")]
    for ci in ci_cols:
        ind = ci.removesuffix("_ci_lower")
        stem = ind.removesuffix("_percent")
        num_col, den_col = f"{stem}_numerator", f"{stem}_denominator"
        if num_col not in table.data.columns or den_col not in table.data.columns:
            continue
        for row in table.data.select(num_col, den_col, ind, "time_period",
                                     "partnership_group", "sen_provision").iter_rows():
            num, den, value = (float(v) if NUMBER.match(v) else None for v in row[:3])
            risky = (
                (den is not None and den < threshold and (value is not None or num is not None))
                or (num is not None and num in (1.0, 2.0))
                or (num is not None and den is not None and den - num in (1.0, 2.0))
            )
            if risky:
                raise DisclosureRisk(
                    f"{ind} for {row[4]} / {row[5]} / {row[3]} is published with "
                    f"numerator {row[0]}, denominator {row[1]} (threshold {threshold})"
                )




# What each group report lists as missing: per group, its latest year and the sources
# it has data from (the question is "which schools sent nothing for that source").
MissingAsked = dict[str, tuple[str, Sequence[str]]]  # group id -> (year, sources)


def missing_schools(conn: duckdb.DuckDBPyConnection, asked: MissingAsked
                    ) -> dict[str, Missing] | None:
    """For each group: its schools (membership in force that year) with no current
    submission of each source. One query for every group: at national scale a query per
    group and source took 15 s of publishing.

    None when the membership or submission tables are not there to answer.
    """
    if not (table_exists(conn, "ref", "group_membership")
            and table_exists(conn, "audit", "submission_units")):
        return None
    out: dict[str, Missing] = {gid: {} for gid in asked}
    wanted = pl.DataFrame(
        [(gid, year, source) for gid, (year, sources) in asked.items() for source in sources],
        schema={"group_id": pl.String, "academic_year": pl.String, "source": pl.String},
        orient="row",
    )
    if wanted.is_empty():
        return out
    conn.register("missing_asked", wanted.to_arrow())
    try:
        rows = conn.execute(
            """
            SELECT DISTINCT w.group_id, w.source, s.school_name
            FROM missing_asked w
            JOIN ref.group_membership m
              ON m.group_id = w.group_id AND m.from_year <= w.academic_year
             AND (m.to_year IS NULL OR m.to_year >= w.academic_year)
            JOIN ref.schools s ON s.urn = m.urn
            WHERE NOT EXISTS (
                SELECT 1 FROM audit.submission_units u
                WHERE u.is_current AND u.source = w.source AND u.urn = m.urn
                  AND u.academic_year = w.academic_year)
            ORDER BY 1, 2, 3
            """
        ).fetchall()
    finally:
        conn.unregister("missing_asked")
    found: dict[tuple[str, str], list[str]] = {}
    for gid, source, name in rows:
        found.setdefault((gid, source), []).append(str(name))
    for gid, (_, sources) in asked.items():  # in the order the sources were asked
        for source in sources:
            if (gid, source) in found:
                out[gid][SOURCE_LABELS.get(source, source)] = found[gid, source]
    return out


def _group_ids(tables: Sequence[EesTable]) -> list[str]:
    ids: set[str] = set()
    for table in tables:
        ids |= {g for g in table.data[GROUP_KEY].unique().to_list() if g}
    for gid in ids:
        # Group ids become folder names: nothing that could climb out of groups/.
        if not SAFE_ID.match(gid):
            raise ValueError(f"group id {gid!r} is not safe as a folder name")
    return sorted(ids)


def publish_public(
    conn: duckdb.DuckDBPyConnection,
    publish_dir: Path,
    threshold: int,
    catalog: Sequence[IndicatorMeta] | None = None,
    reuse: bool = True,
    workers: int = 1,
    pool_from: int = POOL_FROM_GROUPS,
    before_switch: Callable[[], object] | None = None,
) -> PublishSummary:
    """Build and atomically publish `<publish_dir>/public`; raise if anything is unsafe.

    With `reuse`, a group whose folder would be rendered from exactly the same inputs as
    in the current publication has that folder copied instead (see `reuse.py`). With
    `workers` > 1 and at least `pool_from` groups to render, that many processes render
    them (see `groups.py`). `before_switch` is called when the outputs are complete and
    screened, just before `public` is switched to them.
    """
    catalog = tuple(indicator_catalog()) if catalog is None else tuple(catalog)
    geo = Geography.load(conn)
    outcomes = outcome_table(conn, geo, catalog)
    spend = spend_table(conn, geo, catalog)
    coverage = coverage_table(conn, geo)
    tables = [outcomes, spend, coverage]
    assert_no_small_cells(outcomes, threshold)
    group_ids = _group_ids(tables)
    final = publish_dir / PUBLIC
    summary = PublishSummary(public_dir=final, index=final / "index.html")
    summary.rows = {t.name: t.data.height for t in tables}

    with atomic_folder(publish_dir, PUBLIC, before_switch=before_switch) as out:
        ees = out / "ees"
        for table in tables:
            summary.ees_files += [final / "ees" / p.name for p in table.write(ees)]
        findings = screen_folder(ees)
        missing = missing_schools(conn, _missing_asked(group_ids, coverage))
        previous = read_manifest(final.resolve()) if reuse and final.exists() else {}
        records: dict[str, GroupRecord] = {}
        to_render: list[GroupJob] = []
        made_from: dict[str, str] = {}
        for gid in group_ids:
            folder = out / "groups" / gid
            group_tables = tuple(t.for_group(gid) for t in tables)
            label, la_name = _group_names(geo, gid)
            group_missing = _missing_of(missing, gid)
            made_from[gid] = fingerprint(
                gid, label, la_name, threshold, _catalog_text(catalog), group_missing,
                *((t.name, t.meta, frame_text(t.data)) for t in group_tables))
            old = previous.get(gid)
            if old is not None and copy_if_unchanged(old, made_from[gid],
                                                     final / "groups" / gid, folder):
                records[gid] = old
                summary.reused.append(gid)
            else:
                to_render.append(GroupJob(folder, gid, label, la_name, group_tables,
                                          group_missing))
        shared = SharedTables(outcomes, spend, coverage, catalog, threshold)
        for job, group_findings in render_groups(to_render, shared, workers, pool_from):
            records[job.gid] = record_folder(job.folder, made_from[job.gid], group_findings)
        for gid in group_ids:
            findings += records[gid].findings
            summary.group_reports[gid] = final / "groups" / gid / "index.html"
        (out / "index.html").write_text(
            render("index.html.j2", las=_index_las(geo, group_ids, coverage),
                   downloads=_index_downloads(tables), threshold=threshold),
            encoding="utf-8",
        )
        write_manifest(out, records)
        if errors(findings):
            raise ScreenerFailed(errors(findings))
        summary.findings = findings
    return summary


@dataclass
class ScreenedPublication:
    findings: list[Finding]
    groups_screened: int  # group folders read by the screener
    groups_as_recorded: int  # group folders byte-identical to what was screened when written


def screen_published(public: Path, trust_recorded: bool = True) -> ScreenedPublication:
    """The EES screener's findings on a publication as it is on disk now.

    The national tables are always screened. With `trust_recorded`, a group folder whose
    files are byte for byte the ones the publication's manifest recorded (SHA-256, same
    file list), written by this publishing code, has the findings the screener gave those
    very bytes when they were written; any other group folder is screened again. Without
    it (the nightly audit), every folder is screened.
    """
    records = (read_manifest(public.resolve())
               if trust_recorded and public.exists() else {})
    findings = screen_folder(public / "ees")
    screened = recorded = 0
    for folder in sorted((public / "groups").glob("*")):
        record = records.get(folder.name)
        if record is not None and as_recorded(record, folder) is not None:
            findings += record.findings
            recorded += 1
        else:
            findings += screen_folder(folder, allow_singular=GROUP_SINGULAR)
            screened += 1
    return ScreenedPublication(findings, screened, recorded)


def _catalog_text(catalog: Sequence[IndicatorMeta]) -> list[tuple[object, ...]]:
    """What the reports use of the catalogue (not where its SQL files happen to be)."""
    return [(m.id, m.title, m.kind, m.measures, m.why, m.read, sorted(m.extra.items()))
            for m in catalog]


def _group_names(geo: Geography, gid: str) -> tuple[str, str]:
    """A group's name and its local authority's name."""
    label, la_code, _ = geo.groups[gid]
    return label, geo.las.get(la_code, ("", la_code))[1]


def _missing_asked(group_ids: Sequence[str], coverage: EesTable) -> MissingAsked:
    """Per group with coverage: its latest year and the sources it has data from."""
    asked: MissingAsked = {}
    for (gid,), cov in coverage.data.filter(pl.col(GROUP_KEY).is_in(group_ids)).group_by(
            GROUP_KEY):
        years = sorted(cov["time_period"].unique().to_list())
        labels = set(cov["data_source"].unique().to_list())
        asked[str(gid)] = (academic_year(years[-1]),
                           [s for s, lbl in SOURCE_LABELS.items() if lbl in labels])
    return asked


def _missing_of(missing: dict[str, Missing] | None, gid: str) -> Missing | None:
    """A group's missing schools; None when unknown (no tables, or no coverage rows)."""
    if missing is None or gid not in missing:
        return None
    return missing[gid]


def _index_las(geo: Geography, group_ids: list[str], coverage: EesTable) -> list[dict[str, object]]:
    by_la: dict[str, list[dict[str, str]]] = {}
    for gid in group_ids:
        label, la_code, _ = geo.groups[gid]
        cov = coverage.data.filter(
            (pl.col(GROUP_KEY) == gid) & (pl.col("data_source") == "Pupil outcomes")
        ).sort("time_period")
        text = ""
        if cov.height:
            last = cov.row(-1, named=True)
            text = (f"{last['schools_reporting']} of {last['schools_in_group']} schools sent "
                    f"pupil outcomes for {academic_year(last['time_period'])}")
        by_la.setdefault(la_code, []).append({"id": gid, "name": label, "coverage": text})
    return [
        {"code": code, "name": geo.las.get(code, ("", code))[1],
         "groups": sorted(groups, key=lambda g: g["name"])}
        for code, groups in sorted(by_la.items(), key=lambda kv: geo.las.get(kv[0], ("", ""))[1])
    ]


def _index_downloads(tables: Sequence[EesTable]) -> list[dict[str, str]]:
    out = []
    for t in tables:
        out += [
            {"href": f"ees/{t.name}.csv", "label": f"{t.title}: data (CSV)"},
            {"href": f"ees/{t.name}.meta.csv", "label": f"{t.title}: metadata (CSV)"},
            {"href": f"ees/{t.name}.parquet", "label": f"{t.title}: data (Parquet)"},
        ]
    return out
