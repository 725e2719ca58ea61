"""The landing folder: finding files safely, fingerprinting them, keeping refused ones.

Only regular files directly inside `<landing>/<source>/` are read, opened with O_NOFOLLOW
(relative to the source folder, itself opened with O_NOFOLLOW) so a symlink can never lead
the pipeline outside the landing area; links, folders and devices are refused (links are
moved, never followed). A source folder that is itself a link is not read at all. Refused
files are moved, bytes intact, to `<landing>/_refused/<source>/` and never deleted; if that
area (or `_refused`) is a link or not a folder, the file is kept where it is instead.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

REFUSED_DIR = "_refused"
_CHUNK = 1 << 20
# Office lock files (~$book.xlsx) and hidden files (.DS_Store) are never submissions.
_IGNORED_PREFIXES = ("~$", ".")


class UnsafePath(OSError):
    """A landing path that is (or became) a link, or is not a regular file or real folder."""


class FileChanged(Exception):
    """The bytes read are not the bytes fingerprinted: the file changed while being read."""


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


def _open_dir_nofollow(name: str | Path, dir_fd: int | None = None) -> int:
    """An fd for a real folder; UnsafePath if it is a link (or not a folder)."""
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise UnsafePath(error.errno, "a link or not a folder", str(name)) from None
        raise


def source_folder_problem(landing: Path, source: str) -> str | None:
    """Why `<landing>/<source>` must not be read, or None if it is a real folder inside."""
    folder = landing / source
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return (f"{source}/ is a link to another folder, not a folder in the landing area: "
                "its files were not read. Replace the link with a real folder.")
    if not stat.S_ISDIR(info.st_mode):
        return f"{source} is not a folder: nothing was read from it"
    if not folder.resolve().is_relative_to(landing.resolve()):
        return f"{source}/ is outside the landing area: its files were not read"
    return None


def discover(landing: Path, source: str) -> tuple[list[LandingFile], list[str]]:
    """(files to consider, notes about entries skipped), sorted by name for a stable order.

    A source folder that is a link (or resolves outside the landing area) is skipped with a
    note: reading it would load, and refusing would move, files the pipeline does not own.
    """
    folder = landing / source
    files: list[LandingFile] = []
    notes: list[str] = []
    problem = source_folder_problem(landing, source)
    if problem is not None:
        return files, [problem]
    if not folder.is_dir():
        return files, notes
    try:
        # Listed through an fd opened without following links, so a swap after the checks
        # above cannot redirect the listing.
        fd = _open_dir_nofollow(folder)
    except UnsafePath:
        return files, [f"{source}/ became a link while being read: its files were not read"]
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if entry.name.startswith(_IGNORED_PREFIXES):
                    continue
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    notes.append(f"{source}/{entry.name}/ is a folder: files inside are not "
                                 "read")
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
    finally:
        os.close(fd)
    return sorted(files, key=lambda f: f.name), notes


@contextmanager
def open_landing_file(path: Path) -> Iterator[BinaryIO]:
    """Open for reading without following a symlink swapped in after discovery.

    Neither the file nor its (source) folder may be a link, and it must be a regular file
    (O_NONBLOCK: a FIFO swapped in cannot hang the run). Raises UnsafePath otherwise.
    """
    dir_fd = _open_dir_nofollow(path.parent)
    try:
        try:
            fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK,
                         dir_fd=dir_fd)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.EMLINK):
                raise UnsafePath(error.errno, "a link, not a file", path.name) from None
            raise
    finally:
        os.close(dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePath(errno.EINVAL, "not a regular file", path.name)
    os.set_blocking(fd, True)
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


def _refused_dir_fd(landing: Path, source: str) -> int:
    """An fd for `<landing>/_refused/<source>/`, made if missing, never through a link.

    Raises UnsafePath if `_refused` or `_refused/<source>` is a link or not a folder.
    """
    landing_fd = os.open(landing, os.O_RDONLY | os.O_DIRECTORY)
    try:
        parent = landing_fd
        opened: list[int] = []
        try:
            for name in (REFUSED_DIR, source):
                with suppress(FileExistsError):
                    os.mkdir(name, dir_fd=parent)
                parent = _open_dir_nofollow(name, dir_fd=parent)
                opened.append(parent)
        except BaseException:
            for fd in opened:
                os.close(fd)
            raise
        for fd in opened[:-1]:
            os.close(fd)
        return opened[-1]
    finally:
        os.close(landing_fd)


def move_to_refused(file: LandingFile, landing: Path, submission_id: str) -> Path:
    """Move (never copy or delete) a refused file to the refused area; return its new path.

    Raises UnsafePath, leaving the file where it is, if the refused area is a link or not a
    folder (moving there could take the file out of the landing area), or if the file's own
    folder is a link.
    """
    target_fd = _refused_dir_fd(landing, file.source)
    try:
        source_fd = _open_dir_nofollow(file.path.parent)
        try:
            name = file.name
            counter = 0
            while _exists(name, target_fd):
                counter += 1
                suffix = f".{submission_id[:12]}" + (f"-{counter}" if counter > 1 else "")
                name = f"{file.path.stem}{suffix}{file.path.suffix}"
            os.rename(file.name, name, src_dir_fd=source_fd, dst_dir_fd=target_fd)
        finally:
            os.close(source_fd)
    finally:
        os.close(target_fd)
    return landing / REFUSED_DIR / file.source / name


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True
