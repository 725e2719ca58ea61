"""A stop request ends the run instead of being retried.

Ctrl-C on `imf run`, or SIGTERM from a scheduler, a container runtime or Dagster cancelling
a run, interrupts the step that is running. Two things would otherwise turn that into a
retry, so the run carried on as if nothing had been asked (found in the seventeenth
session: `imf run` interrupted mid-models finished and exited 0):

- Dagster applies a step's retry policy to interrupts too (meant for a preempted pod,
  whose retry runs elsewhere), and every step here has one (`STEP_RETRY_POLICY`);
- DuckDB, interrupted mid-query, swallows the signal and raises an ordinary
  `RuntimeError("Query interrupted")`.

Each step's function is wrapped by `stops_when_interrupted`: an interrupt, in either form,
fails the step with a `dg.Failure` that bypasses the retry policy. The step's open
transaction has rolled back on the way out, later steps are skipped, and the run fails
saying it was stopped (`pipelines.automation.failures` tells the analyst so, not that a
step broke). Two gaps are left: an interrupt that lands while Dagster itself is between a
step's outputs, and one that lands in a query Great Expectations runs, which GX records as
that expectation's error (the publishing gate then blocks the run).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import dagster as dg
import duckdb

F = TypeVar("F", bound=Callable[..., Any])

STOPPED_ON_REQUEST = "Stopped on request"
STOPPED = (f"{STOPPED_ON_REQUEST} (Ctrl-C or a stop signal): this step's unfinished work "
           "was rolled back and the steps after it did not run. Run it again to carry on.")
# What DuckDB raises when a signal interrupts a query (a RuntimeError in duckdb 2.0).
QUERY_INTERRUPTED = "Query interrupted"


def is_interrupt(error: BaseException) -> bool:
    """Whether `error` is a stop request: Python's or Dagster's interrupt, or DuckDB's
    interrupted query."""
    return (isinstance(error, KeyboardInterrupt | dg.DagsterExecutionInterruptedError
                       | duckdb.InterruptException)
            or (isinstance(error, RuntimeError) and str(error) == QUERY_INTERRUPTED))


@contextmanager
def _failing_when_interrupted() -> Iterator[None]:
    """Turn a stop request raised inside the block into a failure the retry policy skips."""
    try:
        yield
    except BaseException as error:
        if is_interrupt(error):
            raise dg.Failure(STOPPED, allow_retries=False) from error
        raise


def stops_when_interrupted(fn: F) -> F:
    """`fn`, a step's function (plain or yielding its outputs), failing its step without a
    retry when the run is interrupted. Dagster reads the signature through the wrapper;
    the wrapper is marked so a test can check that every step has it."""

    def yielding(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with _failing_when_interrupted():
            yield from fn(*args, **kwargs)

    def returning(*args: Any, **kwargs: Any) -> Any:
        with _failing_when_interrupted():
            return fn(*args, **kwargs)

    # Dagster tells a step that yields its outputs by the function's kind: keep it.
    wrapper = functools.wraps(fn)(yielding if inspect.isgeneratorfunction(fn) else returning)
    wrapper.stops_when_interrupted = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
