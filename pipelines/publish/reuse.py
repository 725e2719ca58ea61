"""Keep a group's published folder when nothing it is made from has changed.

Every publication renders each partnership group's folder (tables, workbook, report) from
that group's rows alone, byte for byte the same from the same inputs. After one school
resubmits, one group's inputs change, yet every group used to be rendered again: at
national scale about 50 s of rendering and screening that produced identical files.

Each group's folder is recorded in the publication's manifest (`.publication.json` at the
root of the published folder) with:

- its fingerprint: a SHA-256 of everything the folder is made from — the group's rows of
  each published table (as CSV text, with the column types), the tables' metadata, the
  group's name and LA, its list of schools with nothing submitted, the suppression
  threshold, the indicator catalogue, and the publishing code itself (every file under
  `pipelines/publish/`) with the versions of the libraries that write the files;
- the SHA-256 of each file in the folder, and the screener's findings on it.

The next publication copies a group's folder from the current one only when its
fingerprint is unchanged *and* every file still has the recorded hash and no file was
added; otherwise (a changed input, a changed template, a file edited in place) the group
is rendered afresh. A copied folder is therefore byte-identical to what rendering would
have written, which the tests check against a publication from scratch.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib.metadata import version
from pathlib import Path

import polars as pl

from pipelines.publish.screener import Finding

logger = logging.getLogger(__name__)

MANIFEST = ".publication.json"
_PUBLISH_CODE = Path(__file__).resolve().parent
# The libraries whose output bytes or rendering a new version could change.
_WRITERS = ("polars", "xlsxwriter", "jinja2", "markupsafe")


@cache
def code_version() -> str:
    """A hash of the publishing code (Python, templates, styles) and its writers' versions."""
    digest = hashlib.sha256()
    for path in sorted(_PUBLISH_CODE.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".j2", ".css"}:
            digest.update(str(path.relative_to(_PUBLISH_CODE)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    for package in _WRITERS:
        digest.update(f"{package}=={version(package)}\0".encode())
    return digest.hexdigest()


def frame_text(frame: pl.DataFrame) -> str:
    """A frame's exact content as text: column names and types, then every row as CSV."""
    schema = ";".join(f"{name}:{dtype}" for name, dtype in frame.schema.items())
    return f"{schema}\n{frame.write_csv()}"


def fingerprint(*parts: object) -> str:
    """SHA-256 over the parts (strings as they are, anything else by its repr)."""
    digest = hashlib.sha256(code_version().encode())
    for part in parts:
        text = part if isinstance(part, str) else repr(part)
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()


@dataclass
class GroupRecord:
    fingerprint: str
    files: dict[str, str] = field(default_factory=dict)  # name in the folder -> SHA-256
    findings: list[Finding] = field(default_factory=list)


def record_folder(folder: Path, fingerprint_: str, findings: Sequence[Finding]
                  ) -> GroupRecord:
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(folder.iterdir()) if p.is_file()}
    return GroupRecord(fingerprint_, files, list(findings))


def write_manifest(folder: Path, groups: Mapping[str, GroupRecord]) -> None:
    doc = {"code_version": code_version(),
           "groups": {gid: asdict(rec) for gid, rec in sorted(groups.items())}}
    (folder / MANIFEST).write_text(json.dumps(doc, indent=1), encoding="utf-8")


def read_manifest(current: Path) -> dict[str, GroupRecord]:
    """The group records of the current publication, if this publishing code wrote them;
    empty if there is none, it is unreadable or other code wrote it (then every group is
    rendered or screened again, which is always correct)."""
    path = current / MANIFEST
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("code_version") != code_version():
            return {}
        return {
            gid: GroupRecord(rec["fingerprint"], dict(rec["files"]),
                             [Finding(**f) for f in rec["findings"]])
            for gid, rec in doc["groups"].items()
        }
    except (ValueError, KeyError, TypeError) as error:
        logger.warning("ignoring the unreadable publication manifest %s: %s", path, error)
        return {}


def as_recorded(record: GroupRecord, folder: Path) -> dict[str, bytes] | None:
    """The folder's files when they are exactly the recorded ones (same names, same
    SHA-256, no file added or missing); None otherwise."""
    if not folder.is_dir() or {p.name for p in folder.iterdir()} != set(record.files):
        return None
    contents: dict[str, bytes] = {}
    for name, expected in record.files.items():
        path = folder / name
        if path.is_symlink() or not path.is_file():
            return None
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != expected:
            logger.warning("%s differs from what was published", path)
            return None
        contents[name] = data
    return contents


def copy_if_unchanged(previous: GroupRecord, fingerprint_: str, source: Path,
                      target: Path) -> bool:
    """Copy `source` to `target` when its record matches `fingerprint_` and its files are
    exactly the recorded ones; False (nothing written) otherwise."""
    if previous.fingerprint != fingerprint_:
        return False
    contents = as_recorded(previous, source)
    if contents is None:
        return False
    target.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (target / name).write_bytes(data)
    return True
