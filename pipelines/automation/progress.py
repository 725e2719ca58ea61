"""Progress on the command line while `imf run` works: a Dagster logger that prints a line
when a slow step finishes, a running count of the shard steps (each a set of local
authorities), a line for each model table that took long to build or assemble, and how
many files a long ingest step has loaded so far (ingest says so every ten seconds), so a
national run (minutes) is never silent for long.

`imf run` turns it on through run config, with Dagster's console log quietened; runs
started from the UI or by sensors do not configure it and log as Dagster always does.
"""

from __future__ import annotations

import logging
import re
from typing import Any, NamedTuple

import dagster as dg

from pipelines.ingest.loaded_line import LoadedLine

PROGRESS_LOGGER = "imf_progress"


class TableLine(NamedTuple):
    """A model table built (in a shard) or assembled (into the warehouse), as the yearly
    job logs it and as this module reads it back off the log."""

    verb: str
    table: str
    rows: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.verb} {self.table}: {self.rows:,} rows in {self.seconds:.2f} s"

    @classmethod
    def parse(cls, message: str) -> TableLine | None:
        found = _TABLE_LINE.fullmatch(message)
        if found is None:
            return None
        return cls(found["verb"], found["table"], int(found["rows"].replace(",", "")),
                   float(found["seconds"]))


_TABLE_LINE = re.compile(r"(?P<verb>built|assembled) (?P<table>[\w.]+): "
                         r"(?P<rows>[\d,]+) rows in (?P<seconds>\d+\.\d\d) s")


class _StepProgress(logging.Handler):
    """Reads Dagster's step-success events off the log records it is given."""

    def __init__(self, min_seconds: float, every: int) -> None:
        super().__init__(logging.DEBUG)
        self.min_seconds = min_seconds
        self.every = every
        self.mapped = 0
        self.mapped_told = 0

    def _say(self, line: str) -> None:
        print(line, flush=True)

    def _tell_mapped(self) -> None:
        if self.mapped != self.mapped_told:
            noun = "shard" if self.mapped == 1 else "shards"
            self._say(f"  · {self.mapped} {noun} of local authorities built")
            self.mapped_told = self.mapped

    def emit(self, record: logging.LogRecord) -> None:
        meta: dict[str, Any] = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None:
            message = str(meta.get("orig_message") or "")
            table = TableLine.parse(message)
            if table is not None and table.seconds >= self.min_seconds:
                self._tell_mapped()
                self._say(f"    {table}")
            loaded = LoadedLine.parse(message)
            if loaded is not None:
                self._say(f"  · {loaded.source}: {loaded.loaded:,} of {loaded.new:,} new files "
                          "loaded")
            return
        if not event.is_step_success or event.step_key is None:
            return
        if "[" in event.step_key:  # a mapped step, one of many (one per shard): counted
            self.mapped += 1
            if self.mapped % self.every == 0:
                self._tell_mapped()
            return
        self._tell_mapped()  # the count so far, before the step that follows them
        seconds = event.step_success_data.duration_ms / 1000
        if seconds >= self.min_seconds:
            self._say(f"  ✓ {event.step_key} ({seconds:.0f} s)")


@dg.logger(
    config_schema={
        "min_seconds": dg.Field(float, default_value=5.0,
                                description="List steps and model tables that took at "
                                "least this long."),
        "every": dg.Field(int, default_value=25,
                          description="Report the shard steps in batches of this."),
    },
    description="One line per slow step or model table, and a count of shard steps, on "
    "stdout.",
)
def step_progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    # A fresh logger per run (not registered with logging): each run counts its own steps.
    logger = logging.Logger(PROGRESS_LOGGER, logging.DEBUG)
    config = init_context.logger_config
    logger.addHandler(_StepProgress(float(config["min_seconds"]), int(config["every"])))
    return logger


LOGGERS = {**dg.default_loggers(), PROGRESS_LOGGER: step_progress_logger}


def progress_run_config(min_seconds: float = 5.0, every: int = 25) -> dict[str, Any]:
    """Run config for a quiet run that still shows progress."""
    return {"loggers": {
        "console": {"config": {"log_level": "CRITICAL"}},
        PROGRESS_LOGGER: {"config": {"min_seconds": min_seconds, "every": every}},
    }}
