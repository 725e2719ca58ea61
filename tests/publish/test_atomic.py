"""Atomic publishing: finished versions, switching to them, and switching two names in a row
(the auditor's bundle just before the public outputs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pipelines.publish.atomic import (
    atomic_folder,
    finished_version,
    newest_version,
    switch_to_newest,
)


def publish(root: Path, name: str, text: str, **options: Any) -> None:
    with atomic_folder(root, name, **options) as out:
        (out / "index.html").write_text(text)


def shown(root: Path, name: str) -> str:
    return (root / name / "index.html").read_text()


def test_a_version_written_without_switching_waits_for_switch_to_newest(tmp_path: Path) -> None:
    publish(tmp_path, "audit", "first")
    publish(tmp_path, "audit", "second", switch=False)
    assert shown(tmp_path, "audit") == "first"
    newest = newest_version(tmp_path, "audit")
    assert newest is not None and (newest / "index.html").read_text() == "second"

    assert switch_to_newest(tmp_path, "audit") == newest
    assert shown(tmp_path, "audit") == "second"
    assert switch_to_newest(tmp_path, "audit") is None  # already current: nothing to do


def test_before_switch_runs_when_the_folder_is_complete_and_not_yet_switched_to(
        tmp_path: Path) -> None:
    publish(tmp_path, "audit", "audit 1")
    publish(tmp_path, "public", "public 1")
    publish(tmp_path, "audit", "audit 2", switch=False)
    seen: list[tuple[str, str]] = []

    def switch_audit() -> None:
        seen.append((shown(tmp_path, "public"), shown(tmp_path, "audit")))
        switch_to_newest(tmp_path, "audit")

    publish(tmp_path, "public", "public 2", before_switch=switch_audit)
    assert seen == [("public 1", "audit 1")]
    assert (shown(tmp_path, "audit"), shown(tmp_path, "public")) == ("audit 2", "public 2")


def test_a_failed_folder_switches_nothing_and_leaves_no_version(tmp_path: Path) -> None:
    publish(tmp_path, "public", "public 1")
    called: list[bool] = []
    with pytest.raises(RuntimeError), atomic_folder(
            tmp_path, "public", before_switch=lambda: called.append(True)) as out:
        (out / "index.html").write_text("half")
        raise RuntimeError("screener failed")
    assert called == [] and shown(tmp_path, "public") == "public 1"
    assert [p.name for p in (tmp_path / ".versions").iterdir()] == [
        os.readlink(tmp_path / "public").split("/")[-1]]


def test_a_writer_names_its_own_finished_version_not_merely_the_newest(tmp_path: Path) -> None:
    with atomic_folder(tmp_path, "audit", switch=False) as out:
        (out / "index.html").write_text("mine")
        mine = finished_version(out)
        assert not mine.exists()  # named before it is finished
    publish(tmp_path, "audit", "written after mine", switch=False)
    assert (mine / "index.html").read_text() == "mine"
    assert newest_version(tmp_path, "audit") != mine
    with pytest.raises(ValueError, match="not a folder being written"):
        finished_version(mine)
