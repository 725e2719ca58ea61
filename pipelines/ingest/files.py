"""The landing folder: finding files safely, fingerprinting them, keeping refused ones.

Only regular files directly inside `<landing>/<source>/` are read, opened with O_NOFOLLOW
so a symlink can never lead the pipeline outside the landing area; links, folders and
devices are refused (links are moved, never followed). Refused files are moved, bytes
intact, to `<landing>/_refused/<source>/` and never deleted.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

REFUSED_DIR = "_refused"
_CHUNK = 1 << 20
# Office lock files (~$book.xlsx) and hidden files (.DS_Store) are never submissions.
_IGNORED_PREFIXES = ("~$", ".")


@dataclass(frozen=True)
class LandingFile:
    path: Path
    source: str
    size: int
    mtime_ns: int
    regular: bool  # False: a symlink, folder or device — refused, never read

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def mtime(self) -> datetime:
        # Naive UTC, as DuckDB's TIMESTAMP stores it.
        return datetime.fromtimestamp(self.mtime_ns / 1e9, UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Fingerprint:
    submission_id: str  # sha256 hex of the bytes
    head: bytes  # the first bytes, for sniffing the format
    utf8: bool  # the whole file decodes as UTF-8
    has_nul: bool  # NUL bytes: binary, not text


def discover(landing: Path, source: str) -> tuple[list[LandingFile], list[str]]:
    """(files to consider, notes about entries skipped), sorted by name for a stable order."""
    folder = landing / source
    files: list[LandingFile] = []
    notes: list[str] = []
    if not folder.is_dir():
        return files, notes
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(_IGNORED_PREFIXES):
                continue
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                notes.append(f"{source}/{entry.name}/ is a folder: files inside are not read")
                continue
            files.append(
                LandingFile(
                    path=folder / entry.name,
                    source=source,
                    size=info.st_size,
                    mtime_ns=info.st_mtime_ns,
                    regular=stat.S_ISREG(info.st_mode),
                )
            )
    return sorted(files, key=lambda f: f.name), notes


@contextmanager
def open_landing_file(path: Path) -> Iterator[BinaryIO]:
    """Open for reading without following a symlink swapped in after discovery."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        yield handle


def fingerprint(path: Path, head_size: int = 8192) -> Fingerprint:
    """One streaming pass: sha256, the first bytes, UTF-8 validity and NUL bytes."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    has_nul = False
    head = b""
    with open_landing_file(path) as handle:
        while chunk := handle.read(_CHUNK):
            if not head:
                head = chunk[:head_size]
            digest.update(chunk)
            has_nul = has_nul or b"\0" in chunk
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    return Fingerprint(digest.hexdigest(), head, utf8, has_nul)


def unchanged(file: LandingFile) -> bool:
    """The file still has the size and mtime it had at discovery (not being rewritten)."""
    try:
        info = os.stat(file.path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return info.st_size == file.size and info.st_mtime_ns == file.mtime_ns


def move_to_refused(file: LandingFile, landing: Path, submission_id: str) -> Path:
    """Move (never copy or delete) a refused file to the refused area; return its new path."""
    target_dir = landing / REFUSED_DIR / file.source
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / file.name
    counter = 0
    while target.exists() or target.is_symlink():
        counter += 1
        suffix = f".{submission_id[:12]}" + (f"-{counter}" if counter > 1 else "")
        target = target_dir / f"{file.path.stem}{suffix}{file.path.suffix}"
    os.rename(file.path, target)
    return target
