"""Atomic publishing: a folder of outputs appears whole or not at all.

Outputs are written into a fresh version folder; only when it is complete is the public
name switched to it by renaming a symlink (an atomic operation on POSIX). A run killed
half-way leaves the previous version in place and an orphan `.tmp-*` folder, which the
next successful publish removes. The newest `keep` versions are kept for comparison.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

VERSIONS = ".versions"


@contextmanager
def atomic_folder(publish_dir: Path, name: str, keep: int = 5) -> Iterator[Path]:
    """Yield an empty folder; on success `publish_dir/name` points at its contents."""
    if "/" in name or name.startswith("."):
        raise ValueError(f"not a plain output name: {name!r}")
    versions = publish_dir / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    building = versions / f".tmp-{name}-{stamp}-{uuid.uuid4().hex[:8]}"
    building.mkdir()
    try:
        yield building
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    final = versions / f"{name}-{stamp}"
    os.replace(building, final)
    _fsync_dir(versions)
    link = publish_dir / name
    tmp_link = publish_dir / f".{name}.link-{uuid.uuid4().hex[:8]}"
    os.symlink(Path(VERSIONS) / final.name, tmp_link)
    os.replace(tmp_link, link)
    _fsync_dir(publish_dir)
    _prune(versions, name, keep)


def _prune(versions: Path, name: str, keep: int) -> None:
    done = sorted(p for p in versions.glob(f"{name}-*") if p.is_dir())
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for orphan in versions.glob(f".tmp-{name}-*"):
        shutil.rmtree(orphan, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
