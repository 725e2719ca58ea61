"""The thread that checks chunks, and small files' chunks checked together.

A chunk's check (parsing, the Pandera contract, the HMAC) runs in one background thread
while the caller writes the chunk before it. Pandera costs about 70 ms a call however few
the rows: it collects each of a contract's ~40 checks on its own. Files of one school
each (a few hundred rows, as schools' MIS exports arrive) made that fixed cost the
slowest part of ingest: Kent's outcomes as 1,683 school files took 148 s, as three
files 4 s (docs/scaling.md). So chunks smaller than `bundle_rows` are held and checked
together (`validate.check_chunks`, which every check goes through), when the held rows
reach `bundle_rows` or as soon as any held chunk's result is asked for. Each chunk still
gets exactly the result it would alone, and a bundle whose check raises is checked again
chunk by chunk, so an error reaches only the file whose chunk caused it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

import polars as pl

from pipelines.ingest.validate import ChunkResult

# Checks chunks (each with its file's duplicated row numbers): one result per chunk.
Check = Callable[[Sequence[tuple[pl.DataFrame, pl.Series]]], list[ChunkResult]]


class _Held(Future[ChunkResult]):
    """A held chunk's future: asking for its result sends its bundle to be checked."""

    def __init__(self, checker: ChunkChecker) -> None:
        super().__init__()
        self._checker = checker
        self.held = True  # not yet sent to be checked (changed under the checker's lock)

    def result(self, timeout: float | None = None) -> ChunkResult:
        self._checker.flush(self)
        return super().result(timeout)


class ChunkChecker:
    """Checks chunks in one background thread, in the order they are submitted."""

    def __init__(self, check: Check, bundle_rows: int) -> None:
        self._check = check
        self._bundle_rows = bundle_rows
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imf-check")
        self._lock = threading.Lock()
        self._held: list[tuple[pl.DataFrame, pl.Series, _Held]] = []
        self._held_rows = 0

    def __enter__(self) -> ChunkChecker:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        # A chunk still held belongs to a file read ahead and then not loaded: dropped.
        with self._lock:
            self._held.clear()
        self._pool.shutdown()

    def submit(self, chunk: pl.DataFrame, duplicates: pl.Series) -> Future[ChunkResult]:
        """Check `chunk` (`duplicates`: its file's duplicated row numbers)."""
        with self._lock:
            if chunk.height >= self._bundle_rows:
                self._flush_locked()
                return self._pool.submit(self._check_alone, chunk, duplicates)
            future = _Held(self)
            self._held.append((chunk, duplicates, future))
            self._held_rows += chunk.height
            if self._held_rows >= self._bundle_rows:
                self._flush_locked()
            return future

    def flush(self, wanted: _Held | None = None) -> None:
        """Send the held chunks to be checked: all of them, or only if `wanted` is held
        (its result is being waited for; once it has been sent, later chunks may wait
        for more to join them)."""
        with self._lock:
            if wanted is None or wanted.held:
                self._flush_locked()

    def _flush_locked(self) -> None:
        if self._held:
            bundle, self._held, self._held_rows = self._held, [], 0
            for *_, future in bundle:
                future.held = False
            self._pool.submit(self._check_bundle, bundle)

    def _check_alone(self, chunk: pl.DataFrame, duplicates: pl.Series) -> ChunkResult:
        return self._check([(chunk, duplicates)])[0]

    def _check_bundle(self, bundle: list[tuple[pl.DataFrame, pl.Series, _Held]]) -> None:
        try:
            results: list[ChunkResult] | None = None
            if len(bundle) > 1:
                try:
                    results = self._check([(chunk, dups) for chunk, dups, _ in bundle])
                except Exception:  # each chunk is checked alone below
                    results = None
            for i, (chunk, duplicates, future) in enumerate(bundle):
                if results is not None:
                    future.set_result(results[i])
                    continue
                try:
                    future.set_result(self._check_alone(chunk, duplicates))
                except BaseException as error:  # handed to the file's own writer
                    future.set_exception(error)
        finally:  # nobody may wait for ever on a chunk this task did not settle
            for *_, future in bundle:
                if not future.done():
                    future.set_exception(RuntimeError("the chunk's check did not finish"))
