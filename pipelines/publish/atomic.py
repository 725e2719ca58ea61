"""Atomic publishing: a folder of outputs appears whole or not at all.

Outputs are written into a fresh version folder; only when it is complete is the public
name switched to it by renaming a symlink (an atomic operation on POSIX). A run killed
half-way leaves the previous version in place and an orphan `.tmp-*` folder, which the
next successful publish removes. The newest `keep` versions are kept for comparison.

The auditor's bundle and the public outputs are two such names, written by two steps. So
that a run killed between the steps cannot leave one run's bundle beside another run's
public outputs, a publishing run writes the bundle's folder without switching to it
(`switch=False`), and the public step switches `audit` to it (`switch_to_newest`) just
before it switches `public`: the two renames follow each other, with no work between.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

VERSIONS = ".versions"
BUILDING = ".tmp-"  # a version folder being written: `.tmp-<name>-<stamp>-<random>`


def finished_version(building: Path) -> Path:
    """The name the folder `atomic_folder` yielded takes when it is finished, so a writer
    can name its own version (not merely the newest one) once the block has ended."""
    if not building.name.startswith(BUILDING):
        raise ValueError(f"not a folder being written by atomic_folder: {building}")
    return building.with_name(building.name.removeprefix(BUILDING).rsplit("-", 1)[0])


@contextmanager
def atomic_folder(publish_dir: Path, name: str, keep: int = 5, switch: bool = True,
                  before_switch: Callable[[], object] | None = None) -> Iterator[Path]:
    """Yield an empty folder; on success it becomes a finished version and, with `switch`,
    `publish_dir/name` points at it (`before_switch` is called just before)."""
    if "/" in name or name.startswith("."):
        raise ValueError(f"not a plain output name: {name!r}")
    versions = publish_dir / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    building = versions / f"{BUILDING}{name}-{stamp}-{uuid.uuid4().hex[:8]}"
    building.mkdir()
    try:
        yield building
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    final = finished_version(building)
    os.replace(building, final)
    _fsync_dir(versions)
    if switch:
        if before_switch is not None:
            before_switch()
        _switch(publish_dir, name, final, keep)


def newest_version(publish_dir: Path, name: str) -> Path | None:
    """The newest finished version folder of `name` (switched to or not), if any."""
    versions = publish_dir / VERSIONS
    if not versions.is_dir():
        return None
    done = sorted(p for p in versions.glob(f"{name}-*") if p.is_dir())
    return done[-1] if done else None


def switch_to_newest(publish_dir: Path, name: str, keep: int = 5) -> Path | None:
    """Point `publish_dir/name` at its newest finished version if it does not already (one
    written with `switch=False`); return that version, or None if nothing changed."""
    newest = newest_version(publish_dir, name)
    link = publish_dir / name
    if newest is None or (link.is_symlink() and link.resolve() == newest.resolve()):
        return None
    _switch(publish_dir, name, newest, keep)
    return newest


def _switch(publish_dir: Path, name: str, version: Path, keep: int) -> None:
    link = publish_dir / name
    tmp_link = publish_dir / f".{name}.link-{uuid.uuid4().hex[:8]}"
    os.symlink(Path(VERSIONS) / version.name, tmp_link)
    os.replace(tmp_link, link)
    _fsync_dir(publish_dir)
    _prune(publish_dir / VERSIONS, name, keep)


def _prune(versions: Path, name: str, keep: int) -> None:
    done = sorted(p for p in versions.glob(f"{name}-*") if p.is_dir())
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for orphan in versions.glob(f"{BUILDING}{name}-*"):
        shutil.rmtree(orphan, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
