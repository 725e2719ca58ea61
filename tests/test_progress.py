"""`imf run`'s progress lines, from a real Dagster run: slow steps listed, the mapped
(per shard of local authorities) steps counted in batches, the count completed before
what follows."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.automation.progress import LOGGERS, progress_run_config


@dg.op(out=dg.DynamicOut(int))
def plan() -> object:
    for code in (1, 2, 3):
        yield dg.DynamicOutput(code, mapping_key=f"la_{code}")


@dg.op
def build_la_shard(code: int) -> int:
    return code


@dg.op
def assemble(codes: list[int]) -> int:
    return sum(codes)


@dg.job(logger_defs=LOGGERS)
def shards() -> None:
    assemble(plan().map(build_la_shard).collect())


def _lines(capsys: pytest.CaptureFixture[str], **config: float) -> list[str]:
    result = shards.execute_in_process(run_config=progress_run_config(**config))
    assert result.success
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]


def test_every_step_listed_and_mapped_steps_counted(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(capsys, min_seconds=0, every=2)
    assert lines[0].startswith("  ✓ plan (")
    assert lines[1:] == ["  · 2 shards of local authorities built",
                         "  · 3 shards of local authorities built",
                         lines[3]]
    assert lines[3].startswith("  ✓ assemble (")


def test_fast_steps_are_not_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert _lines(capsys, min_seconds=60, every=25) == [
        "  · 3 shards of local authorities built"]


def test_one_is_singular(capsys: pytest.CaptureFixture[str]) -> None:
    assert _lines(capsys, min_seconds=60, every=1)[0] == "  · 1 shard of local authorities built"
