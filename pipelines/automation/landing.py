"""What is in the landing area, by content: the files the landing sensor watches.

A thin view over the ingest stage's own discovery and fingerprint
(pipelines/ingest/files.py), so the sensor sees exactly the files an ingest run will read
and computes the same submission id (sha256 of the bytes): a file renamed or touched
without changing is the same submission, a file edited in place is a new one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.ingest.files import REFUSED_DIR, discover, fingerprint


@dataclass(frozen=True)
class LandingFile:
    """One file waiting in the landing area."""

    path: Path
    relative: str  # '<source>/<name>', as shown to analysts
    size: int
    mtime_ns: int
    regular: bool  # False: a link, folder or device, which ingest refuses without reading


def source_folders(landing: Path) -> list[str]:
    """The source folders present (`spend`, `outcomes`, ...), not the refused area."""
    if not landing.is_dir():
        return []
    return sorted(
        entry.name
        for entry in landing.iterdir()
        if entry.is_dir() and entry.name != REFUSED_DIR and not entry.name.startswith((".", "_"))
    )


def landing_files(landing: Path) -> Iterator[LandingFile]:
    """Every file ingest would consider, source by source, in a stable order.

    Refused files live in `<landing>/_refused/<source>/` and are never listed (ingest reads
    only the files directly inside a source folder), nor are hidden or Office lock files.
    """
    for source in source_folders(landing):
        files, _notes = discover(landing, source)
        for file in files:
            yield LandingFile(
                file.path, f"{source}/{file.name}", file.size, file.mtime_ns, file.regular
            )


def submission_id(file: LandingFile) -> str:
    """The file's submission id: sha256 of its bytes, computed as ingest computes it.

    A link or device is never opened (ingest refuses it unread); it gets a token that
    changes when it does, so it still starts one run, in which ingest refuses it.
    """
    if not file.regular:
        token = f"entry:{file.relative}:{file.mtime_ns}".encode()
        return hashlib.sha256(token).hexdigest()
    return fingerprint(file.path).submission_id


def is_settling(file: LandingFile, settle_seconds: float, now: float | None = None) -> bool:
    """True while a file was modified too recently to be sure its copy has finished."""
    now = time.time() if now is None else now
    return now - file.mtime_ns / 1e9 < settle_seconds
