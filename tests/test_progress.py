"""`imf run`'s progress lines, from a real Dagster run: slow steps listed, the mapped
(per shard of local authorities) steps counted in batches, the count completed before
what follows, the model tables that were slow to build or assemble, and how far a long
ingest has got."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.automation.progress import LOGGERS, TableLine, progress_run_config
from pipelines.ingest.loaded_line import LoadedLine


@dg.op(out=dg.DynamicOut(int))
def plan() -> object:
    for code in (1, 2, 3):
        yield dg.DynamicOutput(code, mapping_key=f"la_{code}")


@dg.op
def build_la_shard(code: int) -> int:
    return code


# `context` is left bare: with postponed annotations Dagster cannot resolve a hint here.
@dg.op
def assemble(context, codes: list[int]) -> int:
    # As the yearly job's assembly logs each table: one slow, one quick.
    context.log.info(str(TableLine("assembled", "marts.fct_slow", 1234567, 61.25)))
    context.log.info(str(TableLine("assembled", "marts.fct_quick", 12, 0.5)))
    context.log.info("assembled marts.fct_slow, said otherwise: not a table line")
    return sum(codes)


@dg.job(logger_defs=LOGGERS)
def shards() -> None:
    assemble(plan().map(build_la_shard).collect())


def _lines(capsys: pytest.CaptureFixture[str], min_seconds: float, every: int) -> list[str]:
    result = shards.execute_in_process(run_config=progress_run_config(min_seconds, every))
    assert result.success
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]


def test_every_step_listed_and_mapped_steps_counted(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(capsys, min_seconds=0, every=2)
    assert lines[0].startswith("  ✓ plan (")
    assert lines[1:] == ["  · 2 shards of local authorities built",
                         "  · 3 shards of local authorities built",
                         "    assembled marts.fct_slow: 1,234,567 rows in 61.25 s",
                         "    assembled marts.fct_quick: 12 rows in 0.50 s",
                         lines[5]]
    assert lines[5].startswith("  ✓ assemble (")


def test_fast_steps_and_tables_are_not_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert _lines(capsys, min_seconds=60, every=25) == [
        "  · 3 shards of local authorities built",
        "    assembled marts.fct_slow: 1,234,567 rows in 61.25 s"]


def test_a_table_line_reads_back_as_written() -> None:
    line = TableLine("built", "indicators.ind_attendance_percent", 8315518, 17.0649)
    assert str(line) == "built indicators.ind_attendance_percent: 8,315,518 rows in 17.06 s"
    assert TableLine.parse(str(line)) == line._replace(seconds=17.06)
    assert TableLine.parse(f"{line} and more") is None
    assert TableLine.parse("rebuilt marts.x: 1 rows in 1.00 s") is None


def test_one_is_singular(capsys: pytest.CaptureFixture[str]) -> None:
    assert _lines(capsys, min_seconds=60, every=1)[0] == "  · 1 shard of local authorities built"


# `context` is left bare, as above.
@dg.op
def ingest_voice(context) -> None:
    # As a long ingest logs its files every ten seconds: a line, then the files' names.
    context.log.info("✓ voice/first.csv: 10 rows read, 10 loaded, 0 quarantined")
    context.log.info(f"{LoadedLine('voice', 2, 22, 1152)}: voice/a.csv (5 rows), voice/b.csv "
                     "(7 rows)")
    context.log.info(f"{LoadedLine('voice', 1, 23, 1152)}: voice/c.csv (9 rows)")


@dg.job(logger_defs=LOGGERS)
def ingesting() -> None:
    ingest_voice()


def test_a_long_ingest_says_how_many_files_it_has_loaded(
        capsys: pytest.CaptureFixture[str]) -> None:
    result = ingesting.execute_in_process(run_config=progress_run_config(60, 25))
    assert result.success
    assert capsys.readouterr().out.splitlines() == [
        "  · voice: 22 of 1,152 new files loaded",
        "  · voice: 23 of 1,152 new files loaded"]


def test_a_loaded_line_reads_back_as_written() -> None:
    line = LoadedLine("outcomes", 1234, 2000, 24000)
    assert str(line) == "✓ outcomes: 1,234 more files loaded (2,000 of 24,000 new)"
    assert LoadedLine.parse(str(line)) == line
    assert LoadedLine.parse(f"{line}: outcomes/a.csv (3 rows)") == line
    assert LoadedLine.parse(f"{line} and more") is None
    assert LoadedLine.parse("✓ outcomes/a.csv: 3 rows read, 3 loaded, 0 quarantined") is None
