"""`imf` with a pause at a named point: the crash tests' kill points, made exact.

Usage: `python tests/crash_points.py <point> <marker file> run [imf run arguments]`.

The real CLI runs, unchanged, except that when it reaches `<point>` it writes what it was
doing to `<marker file>` and sleeps until it is killed. The test waits for the marker and
sends SIGKILL, so the kill lands at that point on a fast machine and a slow one alike,
where watching files or the clock lands it wherever the run has got to by then (on a fast
machine an outcomes file is copied, checked and committed in ~30 ms).

Points:

- `outcomes-rows-written`: ingest has inserted outcome rows into `raw.outcomes` inside a
  submission's transaction, which has not committed.
- `shard-built`: a year's models are built in their shard file, and not yet assembled
  into the warehouse.
- `audit-folder-written` / `public-folder-written`: the auditor's bundle, or every public
  output, is written into a new version folder, and `published/audit` or
  `published/public` is not yet switched to it. A publishing run writes the bundle first.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

POINTS = ("outcomes-rows-written", "shard-built", "audit-folder-written",
          "public-folder-written")


def pause(marker: Path, point: str, **details: object) -> None:
    """Say where the run is (the marker appears whole: written, then renamed), then wait
    to be killed."""
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(json.dumps({"point": point, **details}))
    os.replace(partial, marker)
    while True:
        time.sleep(60)


def install(point: str, marker: Path) -> None:
    """Wrap the function at `point`; the modules call it through their own global name,
    which is what is replaced."""
    if point == "outcomes-rows-written":
        from pipelines.ingest import pipeline

        write_chunks = pipeline.write_chunks

        def write_then_pause(conn: Any, spec: Any, results: Sequence[tuple[str, Any]]) -> None:
            write_chunks(conn, spec, results)
            if spec.name == "outcomes" and any(r.good.height for _, r in results):
                pause(marker, point, submission_ids=[sid for sid, _ in results])

        pipeline.write_chunks = write_then_pause
    elif point == "shard-built":
        from pipelines import yearly

        build_shard = yearly.build_shard

        def build_then_pause(*args: Any, **kwargs: Any) -> Any:
            shard = build_shard(*args, **kwargs)
            pause(marker, point, shard=str(shard.path), la_codes=list(shard.la_codes))

        yearly.build_shard = build_then_pause
    elif point == "audit-folder-written":
        from pipelines.audit import bundle

        bundle.atomic_folder = _pause_once_written(bundle.atomic_folder, marker, point)
    elif point == "public-folder-written":
        from pipelines.publish import core

        core.atomic_folder = _pause_once_written(core.atomic_folder, marker, point)
    else:
        raise SystemExit(f"unknown point {point!r}: one of {', '.join(POINTS)}")


# `atomic_folder` and its stand-in (a context manager yielding the folder being written).
FolderMaker = Callable[..., Any]


def _pause_once_written(atomic_folder: FolderMaker, marker: Path, point: str) -> FolderMaker:
    """`atomic_folder`, pausing when the folder's contents are written and before the
    output's name is switched to it."""

    @contextmanager
    def written_then_pause(publish_dir: Path, name: str, *args: Any,
                           **kwargs: Any) -> Iterator[Path]:
        with atomic_folder(publish_dir, name, *args, **kwargs) as building:
            yield building
            pause(marker, point, folder=str(building))

    return written_then_pause


if __name__ == "__main__":
    point, marker, *arguments = sys.argv[1:]
    install(point, Path(marker))
    from pipelines.cli import main

    sys.exit(main(arguments))
