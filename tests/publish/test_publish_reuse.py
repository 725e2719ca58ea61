"""Republishing copies a group's folder only when everything it is made from is unchanged,
and the result is byte-identical to publishing from scratch; groups rendered by worker
processes are the same bytes as groups rendered in process."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from pathlib import Path

import duckdb
import pytest

from pipelines.catalog import IndicatorMeta
from pipelines.publish.core import PUBLIC, PublishSummary, publish_public, screen_published
from pipelines.publish.ees import Geography, coverage_table, outcome_table, spend_table
from pipelines.publish.groups import GroupJob, SharedTables, render_groups
from pipelines.publish.reuse import MANIFEST
from pipelines.publish.screener import screen_folder

from .conftest import GROUPS, THRESHOLD, build_warehouse

ALL_GROUPS = sorted(GROUPS)


def _publish(db: Path, publish_dir: Path, catalog: tuple[IndicatorMeta, ...],
             reuse: bool = True, workers: int = 1) -> PublishSummary:
    with duckdb.connect(str(db), read_only=True) as conn:
        return publish_public(conn, publish_dir, THRESHOLD, catalog, reuse=reuse,
                              workers=workers, pool_from=1)


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under the folder (the current version behind the link), by its path."""
    root = folder.resolve()
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_unchanged_republication_copies_every_group_byte_for_byte(
        tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    first = _publish(db, tmp_path / "pub", catalog)
    assert first.reused == []  # nothing to copy from
    before = _tree(tmp_path / "pub" / PUBLIC)
    assert MANIFEST in before
    second = _publish(db, tmp_path / "pub", catalog)
    assert second.reused == ALL_GROUPS
    assert _tree(tmp_path / "pub" / PUBLIC) == before
    assert second.findings == first.findings


def test_only_the_changed_group_is_rendered_and_the_result_equals_a_fresh_publication(
        tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    _publish(db, tmp_path / "pub", catalog)
    old_report = (tmp_path / "pub" / PUBLIC / "groups" / "202-02" / "index.html").read_text()
    with duckdb.connect(str(db)) as conn:  # one group's spend changes
        changed = conn.execute("UPDATE indicators.spend_context SET value = value + 1000 "
                               "WHERE group_id = '202-02'").fetchall()
        assert changed[0][0] > 0
    again = _publish(db, tmp_path / "pub", catalog)
    assert again.reused == ["202-01"]
    new_report = (tmp_path / "pub" / PUBLIC / "groups" / "202-02" / "index.html").read_text()
    assert new_report != old_report
    scratch = _publish(db, tmp_path / "scratch", catalog, reuse=False)
    assert scratch.reused == []
    assert _tree(tmp_path / "pub" / PUBLIC) == _tree(tmp_path / "scratch" / PUBLIC)
    assert again.findings == scratch.findings


def test_a_published_file_edited_in_place_is_rendered_again(
        tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    _publish(db, tmp_path / "pub", catalog)
    pristine = _tree(tmp_path / "pub" / PUBLIC)
    group = tmp_path / "pub" / PUBLIC / "groups" / "202-01"
    csv = next(group.glob("imf_outcome_indicators_*.csv"))
    csv.write_text(csv.read_text().replace(",", ";", 1))  # same size or not: a new hash
    (tmp_path / "pub" / PUBLIC / "groups" / "202-02" / "notes.txt").write_text("added")
    again = _publish(db, tmp_path / "pub", catalog)
    assert again.reused == []  # one group edited, the other has a file too many
    assert _tree(tmp_path / "pub" / PUBLIC) == pristine


def test_a_changed_catalogue_text_renders_every_group(
        tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    _publish(db, tmp_path / "pub", catalog)
    reworded = (dataclasses.replace(catalog[0], why=catalog[0].why + " Reworded."),
                *catalog[1:])
    assert _publish(db, tmp_path / "pub", reworded).reused == []
    moved = tuple(dataclasses.replace(m, path=tmp_path / m.path.name) for m in reworded)
    assert _publish(db, tmp_path / "pub", moved).reused == ALL_GROUPS  # where, not what


def test_an_unreadable_manifest_means_rendering_everything(
        tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    _publish(db, tmp_path / "pub", catalog)
    pristine = _tree(tmp_path / "pub" / PUBLIC)
    manifest = (tmp_path / "pub" / PUBLIC).resolve() / MANIFEST
    manifest.write_text("{not json")
    again = _publish(db, tmp_path / "pub", catalog)
    assert again.reused == []
    assert _tree(tmp_path / "pub" / PUBLIC) == pristine


def test_screening_a_publication_uses_the_recorded_findings_only_for_intact_folders(
        tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    published = _publish(db, tmp_path / "pub", catalog)
    public = tmp_path / "pub" / PUBLIC
    screened = screen_published(public)
    assert (screened.groups_as_recorded, screened.groups_screened) == (2, 0)
    assert screened.findings == published.findings
    fresh = screen_folder(public / "ees") + [
        f for gid in ALL_GROUPS
        for f in screen_folder(public / "groups" / gid, allow_singular={"partnership_group"})]
    assert screened.findings == fresh  # what screening every folder again finds

    manifest = public.resolve() / MANIFEST
    manifest.write_text(manifest.read_text().replace('"code_version": "', '"code_version": "x'))
    other_code = screen_published(public)  # written by other publishing code: screened
    assert (other_code.groups_as_recorded, other_code.groups_screened) == (0, 2)
    assert other_code.findings == fresh


def test_recorded_findings_stand_for_a_folder_only_while_its_bytes_are_unchanged(
        tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    """The fixture's files have no findings, so one is recorded by hand: it is reported
    while the folder is as recorded, and gone once a file changes (screened afresh)."""
    db = build_warehouse(tmp_path / "wh.duckdb")
    _publish(db, tmp_path / "pub", catalog)
    public = tmp_path / "pub" / PUBLIC
    manifest = public.resolve() / MANIFEST
    doc = json.loads(manifest.read_text())
    noted = {"rule": "note", "file": "index.html", "message": "recorded", "severity": "warning"}
    doc["groups"]["202-01"]["findings"] = [noted]
    manifest.write_text(json.dumps(doc))
    assert [f.message for f in screen_published(public).findings] == ["recorded"]
    report = public / "groups" / "202-01" / "index.html"
    report.write_text(report.read_text() + " ")
    assert screen_published(public).findings == []


def test_groups_rendered_by_worker_processes_are_the_same_bytes(
        tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    db = build_warehouse(tmp_path / "wh.duckdb")
    in_process = _publish(db, tmp_path / "one", catalog)
    pooled = _publish(db, tmp_path / "two", catalog, workers=2)
    assert _tree(tmp_path / "two" / PUBLIC) == _tree(tmp_path / "one" / PUBLIC)
    assert pooled.findings == in_process.findings
    assert sorted(pooled.group_reports) == ALL_GROUPS


def test_the_pool_renders_in_other_processes_and_a_failure_there_is_raised_here(
        tmp_path: Path, catalog: tuple[IndicatorMeta, ...]) -> None:
    with duckdb.connect(str(build_warehouse(tmp_path / "wh.duckdb")), read_only=True) as conn:
        geo = Geography.load(conn)
        shared = SharedTables(outcome_table(conn, geo, catalog), spend_table(conn, geo, catalog),
                              coverage_table(conn, geo), catalog, THRESHOLD)
    jobs = [GroupJob(tmp_path / gid, gid, name, "Camden",
                     tuple(t.for_group(gid) for t in (shared.outcomes, shared.spend,
                                                      shared.coverage)), None)
            for gid, name in sorted(GROUPS.items())]
    children = []
    for job, findings in render_groups(jobs, shared, workers=2, pool_from=1):
        children += multiprocessing.active_children()  # the pool's workers, while it runs
        assert (job.folder / "index.html").is_file() and findings == []
    assert children
    # A group that cannot be written (its folder is a file) fails the whole rendering.
    (tmp_path / "blocked").write_text("not a folder")
    broken = [dataclasses.replace(jobs[0], folder=tmp_path / "blocked"), *jobs[1:]]
    with pytest.raises(OSError):
        list(render_groups(broken, shared, workers=2, pool_from=1))
