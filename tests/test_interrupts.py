"""A stop request fails the step without a retry, whichever form it reaches the step in:
Python's KeyboardInterrupt, Dagster's interrupt, or DuckDB's interrupted query. The whole
`imf run` stopped by SIGINT and SIGTERM is in test_crash_safety.py."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Iterator

import dagster as dg
import pytest

from pipelines.automation.interrupts import is_interrupt, stops_when_interrupted

# In a process of its own: Ctrl-C half a second into a query of several seconds. DuckDB
# sometimes gives the query up at once and raises RuntimeError("Query interrupted"), and
# sometimes notices the signal only when the query has finished, when Python's handler
# raises KeyboardInterrupt (seen both ways here; inside pytest's own process always the
# second). Either way the step must stop, without a retry.
CHILD = """
import os, signal, threading, duckdb
import dagster as dg
from pipelines.automation.interrupts import STOPPED, stops_when_interrupted

@stops_when_interrupted
def step():
    with duckdb.connect() as conn:
        return conn.execute("SELECT count(*) FROM range(100000000) a, range(10) b "
                            "WHERE (a.range * b.range) % 7 = 3").fetchone()

threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    step()
except dg.Failure as stopped:
    print(stopped.description == STOPPED, stopped.allow_retries, repr(stopped.__cause__))
else:
    print("not stopped")
"""


def test_a_signal_during_a_query_stops_the_step_without_a_retry() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() in {"True False RuntimeError('Query interrupted')",
                                   "True False KeyboardInterrupt()"}, done.stdout + done.stderr


def test_a_step_yielding_its_outputs_stops_after_what_it_yielded() -> None:
    @stops_when_interrupted
    def step() -> Iterator[int]:
        yield 1
        raise dg.DagsterExecutionInterruptedError()

    outputs = step()
    assert next(outputs) == 1
    with pytest.raises(dg.Failure, match="Stopped on request"):
        next(outputs)


def test_other_errors_pass_through_unchanged() -> None:
    @stops_when_interrupted
    def step() -> None:
        raise RuntimeError("Binder Error: column x not found")

    with pytest.raises(RuntimeError, match="Binder Error"):
        step()


@pytest.mark.parametrize(("error", "stop"), [
    (KeyboardInterrupt(), True),
    (dg.DagsterExecutionInterruptedError(), True),
    (RuntimeError("Query interrupted"), True),
    (RuntimeError("Query interrupted by a typo"), False),
    (ValueError("Query interrupted"), False),
])
def test_what_counts_as_a_stop_request(error: BaseException, stop: bool) -> None:
    assert is_interrupt(error) is stop


def test_dagster_sees_the_step_function_as_written() -> None:
    def step(context: dg.OpExecutionContext, rows: int) -> int:
        return rows

    wrapped = stops_when_interrupted(step)
    assert inspect.signature(wrapped) == inspect.signature(step)
    assert inspect.isgeneratorfunction(stops_when_interrupted(lambda: (yield)))


def test_every_step_of_every_job_stops_when_interrupted() -> None:
    """A step added without the wrapper would be retried on Ctrl-C again."""
    from pipelines.definitions import defs

    unwrapped = set()
    for job in defs.resolve_all_job_defs():
        for op in job.graph.iterate_op_defs():
            fn = getattr(op.compute_fn, "decorated_fn", op.compute_fn)
            if not getattr(fn, "stops_when_interrupted", False):
                unwrapped.add(op.name)
    assert unwrapped == set()
