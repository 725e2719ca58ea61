"""A plain-language summary of a failed run, written where analysts look.

`<IMF_PUBLISH_DIR>/run-failures/<UTC timestamp>_<job>.md` sits next to the published
outputs an analyst already opens each term; the same text goes to the Dagster UI (the
failure sensor's tick log). It names the step that failed, the error message, and what
to do next.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pipelines.automation.interrupts import STOPPED_ON_REQUEST

FAILURES_DIR = "run-failures"
DEFAULT_UI_URL = "http://127.0.0.1:3000"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class StepFailure:
    step: str
    error: str  # the exception's message (not the stack trace: that is in the UI)
    error_class: str = ""


@dataclass(frozen=True)
class FailedRun:
    run_id: str
    job: str
    partition: str | None
    failed_at: datetime
    steps: Sequence[StepFailure]
    run_error: str = ""  # the run-level failure message (e.g. the run worker crashed)
    will_retry: bool = False


def step_failures(events: Iterable[dg.DagsterEvent]) -> list[StepFailure]:
    """The failed steps among a run's events, each with its innermost error."""
    steps = []
    for event in events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        error = data.error if data is not None else None
        # Dagster wraps the asset's own exception ("Error occurred while executing op"):
        # the analyst needs the innermost one, e.g. DuckDB's message naming the column. A
        # `dg.Failure` is a step's own explanation, written for the analyst: kept whole.
        while error is not None and error.cause is not None and error.cls_name != "Failure":
            error = error.cause
        message = "(no message)" if error is None else error.message
        if error is not None and error.cls_name == "Failure":  # its words, without the class
            message = message.partition(": ")[2] or message
        steps.append(
            StepFailure(
                step=event.step_key or "?",
                error=message,
                error_class=(error.cls_name or "") if error is not None else "",
            )
        )
    return steps


def ui_url() -> str:
    """Where the UI is (`imf ui` sets IMF_UI_URL for the processes it starts)."""
    return os.environ.get("IMF_UI_URL", "").strip().rstrip("/") or DEFAULT_UI_URL


def _advice(run: FailedRun) -> list[str]:
    """What to do next: the likeliest fix for this job and error, then the general route."""
    text = " ".join([run.run_error, *(s.error + " " + s.error_class for s in run.steps)])
    advice: list[str] = []
    if STOPPED_ON_REQUEST in text:
        return [
            "The run was stopped on request (Ctrl-C, or a stop signal from a scheduler or "
            "container runtime): nothing was wrong with the data. The interrupted step's "
            "unfinished work was rolled back and the published outputs are unchanged. "
            "Start `imf run` again to carry on.",
        ]
    if run.will_retry:
        advice.append(
            "Dagster will retry this run by itself; look again once the retry has finished."
        )
    if "WarehouseBusy" in text or "lock" in text.lower():
        advice.append(
            "Another run (or `imf run`) held the warehouse for too long. Wait for it to "
            "finish, then re-execute this run."
        )
    elif "MemoryError" in text or "Out of Memory" in text:
        advice.append(
            "The machine ran out of memory. Close other programs or lower "
            "the warehouse memory limit, then re-execute this run."
        )
    if run.job == "ingest":
        advice.append(
            "A landing file could not be loaded. A file that breaks the data contract is "
            "refused (see audit.submission_log), not failed, so this is likely a fault in "
            "the pipeline or the disk: check the file the error names, fix or remove it, "
            "and drop it again. The landing sensor starts a new run when its content changes."
        )
    elif run.job == "yearly_models":
        year = f" for {run.partition}" if run.partition else ""
        advice.append(
            f"A SQL model{year} failed. The step name is the model (models/<layer>/<name>.sql). "
            "Earlier years and the published outputs are unchanged."
        )
    elif run.job == "publish":
        advice.append(
            "Nothing new was published: outputs appear whole or not at all, so the last "
            "published set is still in place. If disclosure control or a critical "
            "expectation blocked it, the audit bundle's check results say which cells."
        )
    advice.append(
        f"Open the run in the Dagster UI ({ui_url()}/runs/{run.run_id}) for every step's "
        "logs, then use 'Re-execute from failure' once fixed, or start a full run with "
        "`imf run`."
    )
    return advice


def render(run: FailedRun) -> str:
    """The summary as Markdown."""
    partition = f" ({run.partition})" if run.partition else ""
    lines = [
        f"# Run failed: {run.job}{partition}",
        "",
        f"- When: {run.failed_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
        f"- Dagster run: {run.run_id} ({ui_url()}/runs/{run.run_id})",
        f"- Job: {run.job}" + (f", academic year {run.partition}" if run.partition else ""),
        "",
        "## What failed",
        "",
    ]
    if run.steps:
        for step in run.steps:
            kind = f" ({step.error_class})" if step.error_class else ""
            lines += [f"### Step `{step.step}`{kind}", "", "```text",
                      step.error.strip()[:_MAX_ERROR_CHARS], "```", ""]
    else:
        lines += ["No step failed: the run itself stopped.", "", "```text",
                  (run.run_error.strip() or "(no message)")[:_MAX_ERROR_CHARS], "```", ""]
    lines += ["## What to do next", ""]
    lines += [f"{n}. {text}" for n, text in enumerate(_advice(run), start=1)]
    return "\n".join(lines) + "\n"


def write_failure_summary(run: FailedRun, publish_dir: Path) -> Path:
    """Write the summary atomically (a reader never sees half a file) and return its path."""
    folder = publish_dir / FAILURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = run.failed_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{stamp}_{_SAFE.sub('_', run.job)}_{run.run_id[:8]}.md"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(render(run))
    os.replace(tmp, target)
    return target
