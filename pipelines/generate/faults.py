"""Injecting bad input into a file's rows and recording each fault for the manifest.

`fault_rate` is the share of a file's data rows that are corrupted (at least one of each
kind the source can have is injected somewhere in the run). Every corrupted row breaks one
rule only; the resubmitted unit's rows are protected so the replacement story stays clean.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from pipelines.generate.row_faults import DUPLICATE, Context, RowFault, for_source

FaultRecord = dict[str, Any]


class FaultInjector:
    def __init__(self, rate: float) -> None:
        if not 0 <= rate <= 1:
            raise ValueError("fault_rate must be between 0 and 1")
        self.rate = rate
        self.records: list[FaultRecord] = []
        self._done: set[tuple[str, str]] = set()  # (source, kind) injected at least once

    def record(self, **entry: Any) -> None:
        self.records.append({"row_number": None, "column": None, "value": None, **entry})

    def _plan(self, rng: np.random.Generator, source: str, kinds: list[str], rows: int
              ) -> NDArray[np.int64]:
        must = np.array([(source, k) not in self._done for k in kinds], dtype=np.int64)
        extra = max(0, round(self.rate * rows) - int(must.sum()))
        return np.asarray(must + rng.multinomial(extra, np.full(len(kinds), 1 / len(kinds))),
                          dtype=np.int64)

    def rows(self, rng: np.random.Generator, frame: pl.DataFrame, rel: str, ctx: Context,
             protect: NDArray[np.bool_]) -> pl.DataFrame:
        """The text frame with faults applied (duplicates appended at the end)."""
        faults: list[RowFault] = for_source(ctx.source)
        kinds = [f.kind for f in faults] + ([DUPLICATE] if ctx.source == "outcomes" else [])
        plan = self._plan(rng, ctx.source, kinds, frame.height)
        used = protect.copy()
        for fault, count in zip(faults, plan.tolist(), strict=False):
            if count == 0:
                continue
            cand = np.flatnonzero(fault.eligible(frame, ctx).to_numpy() & ~used)
            if cand.size == 0:
                continue
            idx = np.sort(rng.choice(cand, size=min(count, cand.size), replace=False))
            used[idx] = True
            changes, values = fault.corrupt(frame, idx, ctx, rng)
            frame = frame.with_columns(
                [frame[col].scatter(idx, pl.Series(vals, dtype=pl.String))
                 for col, vals in changes.items()])
            self._done.add((ctx.source, fault.kind))
            for i, value in zip(idx.tolist(), values, strict=True):
                self.record(kind=fault.kind, source=ctx.source, file=rel, row_number=i + 2,
                            column=fault.column, value=value if fault.record_value else None)
        if ctx.source == "outcomes" and plan[-1] > 0:
            frame = self._duplicates(rng, frame, rel, int(plan[-1]), used)
        return frame

    def _duplicates(self, rng: np.random.Generator, frame: pl.DataFrame, rel: str, count: int,
                    used: NDArray[np.bool_]) -> pl.DataFrame:
        """The same pupil exported twice for the school and year, the copy a little different
        (so neither row can be trusted over the other)."""
        cand = np.flatnonzero(~used)
        idx = np.sort(rng.choice(cand, size=min(count, cand.size), replace=False))
        copies = frame[idx].with_columns(
            pl.when(pl.col("sessions_attended").cast(pl.Int64) > 0)
            .then((pl.col("sessions_attended").cast(pl.Int64) - 1).cast(pl.String))
            .otherwise(pl.col("sessions_attended")).alias("sessions_attended"))
        height = frame.height
        for j, i in enumerate(idx.tolist()):
            first, second = i + 2, height + j + 2
            self.record(kind=DUPLICATE, source="outcomes", file=rel, row_number=first,
                        column="upn", duplicate_of=second)
            self.record(kind=DUPLICATE, source="outcomes", file=rel, row_number=second,
                        column="upn", duplicate_of=first)
        self._done.add(("outcomes", DUPLICATE))
        return pl.concat([frame, copies])
