"""Republishing copies a group's folder only when everything it is made from is unchanged,
and the result is byte-identical to publishing from scratch."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb

from pipelines.catalog import IndicatorMeta
from pipelines.publish.core import PUBLIC, PublishSummary, publish_public
from pipelines.publish.reuse import MANIFEST

from .conftest import GROUPS, THRESHOLD, build_warehouse

ALL_GROUPS = sorted(GROUPS)


def _publish(db: Path, publish_dir: Path, catalog: tuple[IndicatorMeta, ...],
             reuse: bool = True) -> PublishSummary:
    with duckdb.connect(str(db), read_only=True) as conn:
        return publish_public(conn, publish_dir, THRESHOLD, catalog, reuse=reuse)


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
