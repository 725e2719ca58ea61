"""Ingest's private working folders (`imf-ingest-*` beside the warehouse).

While a landing file is read, ingest reads a private copy of it (Windows-1252 files
transcoded to UTF-8), so the file cannot change under the reader. The copy holds what the
landing file holds — for outcomes, UPNs in clear — so it must not outlive its file:

- the folder is removed in a `finally` as soon as its file is done, whatever happened;
- while in use, the folder is flock-ed (on the folder itself), and the lock dies with the
  process, so a folder left by a run killed with SIGKILL (or a power cut) is recognisably
  stale: `remove_stale` deletes it at the start of the next ingest (the caller holds the
  warehouse writer lock; folders still locked by a live process are left alone).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = "imf-ingest-"


@contextmanager
def working_folder(parent: Path | None) -> Iterator[Path]:
    """A fresh private (0700) folder, locked while in use and always removed after."""
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    fd: int | None = None
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield folder
    finally:
        # Removed while still locked, so no other run's clean-up races this one.
        shutil.rmtree(folder, ignore_errors=True)
        if fd is not None:
            os.close(fd)


def remove_stale(parent: Path | None) -> list[str]:
    """Delete working folders left by killed runs; return the names of those removed.

    A folder is stale when no live process holds its lock. Links named `imf-ingest-*` are
    never followed (nor removed: the pipeline did not make them).
    """
    base = Path(tempfile.gettempdir()) if parent is None else parent
    removed: list[str] = []
    try:
        candidates = sorted(p for p in base.iterdir() if p.name.startswith(PREFIX))
    except OSError:
        return removed
    for folder in candidates:
        try:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                continue
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use by a live run
            shutil.rmtree(folder)
            removed.append(folder.name)
        except OSError:
            continue  # not ours to remove (permissions): left for the operator
        finally:
            os.close(fd)
    return removed
