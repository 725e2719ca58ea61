"""Plumbing of benchmarks/run.py on tiny files (the benchmark itself is not a test)."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
OUTCOMES_HEADER = (
    "URN,Academic Year,UPN,year_group,sen_provision,primary_need,first_identified_year_group,"
    "sessions_possible,sessions_attended,base_sessions,suspensions,permanently_excluded\n"
)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("imf_benchmark", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    (root / "outcomes").mkdir(parents=True)
    (root / "voice").mkdir()
    (root / "_refused" / "outcomes").mkdir(parents=True)
    rows = "".join(f"100001,2024/25,A{i:011d}X,5,N,,,400,390,0,{i % 3},N\n" for i in range(5))
    rows += "100002,2024/25,B00000000001X,6,N,,,400,380,0,0,N\n"
    (root / "outcomes" / "trust_return.csv").write_text(OUTCOMES_HEADER + rows)
    # Windows-1252, as Excel writes it: the floor must still read it.
    (root / "voice" / "survey.csv").write_bytes(
        "urn,academic_year,comment\n100001,2024/25,café\n".encode("cp1252"))
    (root / "_refused" / "outcomes" / "bad.csv").write_text("not counted\n")
    return root


def test_floor_reads_every_landing_file_once(bench: ModuleType, landing: Path) -> None:
    floor = bench.measure_floor(landing, threads=1, memory_limit="256MB")
    assert floor["files"] == 2  # the refused folder is not landing data
    assert floor["rows"] == 7
    assert floor["per_source"]["voice"]["rows"] == 1
    assert floor["count_s"] > 0 and floor["all_columns_s"] > 0
    assert floor["count_cpu_s"] > 0 and floor["all_columns_cpu_s"] > 0


def test_resubmission_changes_one_school_year_and_is_later(
    bench: ModuleType, landing: Path
) -> None:
    before = {p: p.stat().st_mtime for p in landing.rglob("*.csv")}
    info = bench.resubmit_one_school(landing)
    new = landing / "outcomes" / info["file"]
    assert new.stat().st_mtime > max(before.values())
    assert (info["urn"], info["academic_year"]) == ("100001", "2024/25")
    with new.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "URN"
    assert {r[0] for r in rows[1:]} == {"100001"} and len(rows) == 6
    with (landing / "outcomes" / "trust_return.csv").open(newline="") as handle:
        original = list(csv.reader(handle))[1:6]
    changed = [i for i, (a, b) in enumerate(zip(original, rows[1:], strict=True)) if a != b]
    assert changed == [info["changed_row"] - 2]


def test_steps_are_grouped_into_the_issue_stages(bench: ModuleType) -> None:
    assert bench.stage_of({"ingest"}, "ingest", check_only=False) == "ingest"
    assert bench.stage_of({"reference"}, "ingest", check_only=False) == "ingest"
    assert bench.stage_of({"marts"}, "yearly_models", check_only=False) == "models"
    assert bench.stage_of({"audit"}, "publish", check_only=False) == "audit"
    assert bench.stage_of({"publish"}, "publish", check_only=False) == "publish"
    assert bench.stage_of(set(), "yearly_models", check_only=True) == "audit"
    assert bench.stage_of({"something_new"}, "yearly_models", check_only=False) == "models"


def test_cpu_between_two_moments_is_read_off_the_sampled_curve(bench: ModuleType) -> None:
    """Samples at 10 s (1 CPU s so far), 12 s (3) and 14 s (3): from 11 s to 13 s the tree
    used half of the first interval's 2 s and none of the second's."""
    sampler = bench.RssSampler()
    sampler.cpu_samples = [(10.0, 1.0), (12.0, 3.0), (14.0, 3.0)]
    assert sampler.cpu_seconds(11.0, 13.0) == pytest.approx(1.0)
    assert sampler.cpu_seconds(10.0, 14.0) == pytest.approx(2.0)
    assert sampler.cpu_seconds(0.0, 10.5) == pytest.approx(0.5)  # flat before the first
    assert sampler.cpu_seconds(13.0, 99.0) == 0.0  # and after the last


def test_the_sampler_sees_cpu_spent_in_another_thread(bench: ModuleType) -> None:
    import threading
    import time

    def spin() -> None:
        started = time.thread_time()
        while time.thread_time() - started < 0.4:
            pass

    with bench.RssSampler(interval_s=0.02) as sampler:
        start = time.time()
        worker = threading.Thread(target=spin)
        worker.start()
        worker.join()
        end = time.time()
    assert 0.35 <= sampler.cpu_seconds(start, end) <= (end - start) * 2 + 0.1


def test_cores_busy_are_shown_per_stage_beside_the_floor(bench: ModuleType) -> None:
    def scale(median: dict[str, object]) -> dict[str, object]:
        return {"landing": {"rows": 1, "files": 1, "bytes": 1}, "repeats": 1, "runs": [],
                "params": {"scale": "x"}, "median": {"total_s": 40.0, "stages_s": {},
                                                     **median}}

    def resubmission(cpu: float, wall: float, audit_cpu: float) -> dict[str, object]:
        return {"full": {"total_s": 40.0}, "incremental": {
            "cpu_s": cpu, "total_s": wall,
            "stages_cpu_s": {"ingest": 1.0, "audit": audit_cpu},
            "stages_steps_s": {"ingest": 1.0, "audit": 4.0}}}

    la = scale({"floor_count_s": 2.0, "floor_count_cpu_s": 3.0, "cpu_s": 50.0,
                "stages_cpu_s": {"ingest": 15.0, "audit": 4.0},
                "stages_steps_s": {"ingest": 10.0, "audit": 8.0}})
    # Three repeats of the resubmission: the medians are 9 CPU s in 6 s, audit 5 CPU s.
    la["runs"] = [resubmission(9.0, 6.0, 5.0), resubmission(8.0, 5.0, 4.0),
                  resubmission(12.0, 9.0, 6.0)]
    text = bench.render_markdown({"machine": {"logical_cores": 2}, "scales": {
        "demo": scale({}),  # measured before CPU was sampled: left out
        "la": la}})
    assert "## CPU: how many cores each stage kept busy" in text
    assert "| scale | floor | ingest | audit | whole run |" in text
    assert "| la | 1.50 (3.0 / 2.0) | 1.50 (15.0 / 10.0) | 0.50 (4.0 / 8.0) | " \
           "1.25 (50.0 / 40.0) |" in text
    assert "| la resubmission | | 1.00 (1.0 / 1.0) | 1.25 (5.0 / 4.0) | 1.50 (9.0 / 6.0) |" \
        in text
    assert "| demo | " not in text.split("## CPU")[1].split("##")[0]


def test_results_render_without_every_scale(bench: ModuleType) -> None:
    text = bench.render_markdown({"machine": {"logical_cores": 2}, "scales": {}})
    assert "not measured" in text and "Caveat" in text


def test_each_scale_says_which_commit_it_was_measured_on(bench: ModuleType) -> None:
    """A run of some scales keeps the others' figures: the file says which code each was
    measured on, and marks one older than the code it was written with."""
    # The file is written at a documentation-only commit after the code's.
    machine = {"git_commit": "docs999", "code_commit": "new1234", "git_dirty": False}
    median = {"total_s": 40.0, "floor_count_s": 1.0, "ratio_to_floor": 40.0,
              "stages_s": {}, "peak_rss": 2**30}

    def scale(**stamp: object) -> dict[str, object]:
        return {"landing": {"rows": 1, "files": 1, "bytes": 1}, "median": median,
                "repeats": 1, "params": {"scale": "x"}, "runs": [],
                "measured_at": "2026-11-30T00:00:00+00:00", **stamp}

    measured_now = bench._stamped(scale(), machine)
    assert (measured_now["commit"], measured_now["dirty"]) == ("new1234", False)
    text = bench.render_markdown({"machine": machine, "scales": {
        "demo": measured_now,
        "la": scale(commit="old5678", dirty=False),
        "national": scale()}})
    rows = {line.split(" | ")[0]: line for line in text.splitlines()
            if line.startswith(("| demo |", "| la |", "| national |"))}
    assert rows["| demo"].endswith("| new1234 |")
    assert rows["| la"].endswith("| **old5678** |")
    assert rows["| national"].endswith("| not recorded |")
    assert "measured 2026-11-30T00:00:00+00:00 on commit old5678 (**older code" in text
    assert "Commit docs999 (code last changed in new1234)" in text
    assert "measured 2026-11-30T00:00:00+00:00 on commit new1234;" in text


def test_per_scale_notes_say_what_was_generated_in_words(bench: ModuleType) -> None:
    """The notes are read by people: no Python dict, load averages as `uptime` shows them."""
    entry = {"landing": {"rows": 1, "files": 1, "bytes": 1}, "repeats": 3, "runs": [],
             "median": {"total_s": 40.0, "floor_count_s": 1.0, "stages_s": {}},
             "params": {"scale": "la", "la_code": "886", "years": 3, "seed": 42,
                        "fault_rate": 0.0},
             "generation_s": 3.24, "load_average_start": [1.98583984375, 1.5, 1.0],
             "load_average_end": [1.3798828125, 1.2, 1.0], "commit": "abc1234"}
    text = bench.render_markdown({"machine": {"code_commit": "abc1234"},
                                  "scales": {"la": entry}})
    note = next(line for line in text.splitlines() if line.startswith("- **la**"))
    assert note.startswith("- **la**: LA 886, 3 academic years, seed 42, no deliberate "
                           "faults, generated in 3.2 s;")
    assert "load average 1.99 → 1.38; repeats 3." in note
    assert "{" not in note


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          cwd=root, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def test_only_code_changes_count_as_uncommitted(bench: ModuleType, tmp_path: Path) -> None:
    """The results files are the benchmark's own output and the docs only quote them;
    anything else tracked counts."""
    def git(*args: str) -> str:
        return _git(tmp_path, *args)

    (tmp_path / "benchmarks").mkdir()
    for name in ("benchmarks/results.md", "benchmarks/results.json", "pipelines.py"):
        (tmp_path / name).write_text("before\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "start")
    assert not bench.uncommitted_changes(tmp_path)
    (tmp_path / "benchmarks" / "results.md").write_text("after\n")
    (tmp_path / "benchmarks" / "results.json").write_text("after\n")
    (tmp_path / "notes.txt").write_text("untracked\n")
    assert not bench.uncommitted_changes(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("a figure quoted\n")
    git("add", "docs")
    assert not bench.uncommitted_changes(tmp_path)
    (tmp_path / "pipelines.py").write_text("after\n")
    assert bench.uncommitted_changes(tmp_path)


def test_the_code_commit_skips_results_documentation_and_tests(bench: ModuleType,
                                                                tmp_path: Path) -> None:
    """Figures are stamped with the last commit that changed code the benchmark runs: the
    commit of the results, the guide that quotes them or a test must not make them look
    like older code."""
    def git(*args: str) -> str:
        return _git(tmp_path, *args)

    git("init", "-q")
    (tmp_path / "pipelines.py").write_text("code\n")
    git("add", ".")
    git("commit", "-q", "-m", "code")
    code = git("rev-parse", "--short", "HEAD")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "results.json").write_text("{}\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "scaling.md").write_text("figures\n")
    (tmp_path / "README.md").write_text("readme\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_x() -> None: ...\n")
    git("add", ".")
    git("commit", "-q", "-m", "results, docs and tests")
    assert bench.last_code_commit(tmp_path) == code
    (tmp_path / "pipelines.py").write_text("changed\n")
    git("commit", "-q", "-am", "more code")
    assert bench.last_code_commit(tmp_path) == git("rev-parse", "--short", "HEAD") != code


def test_layouts_split_one_file_per_school_and_render_per_file_cost(
        bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two schools' rows become two files with every row kept; the table's per-file cost
    and ratio are worked out from the medians (by hand: 3 s / 2 files = 1500 ms, 3 / 1.5)."""
    monkeypatch.setattr(bench, "WORK_DIR", tmp_path / "work")
    landing = tmp_path / "landing"
    for source in bench.LAYOUT_SOURCES:
        (landing / source).mkdir(parents=True)
        (landing / source / f"886_2025-26_{source}.csv").write_text(
            "urn,x\n100001,a\n100002,b\n100001,c\n")
    layouts = bench.layout_landings(landing)
    split = sorted((layouts["one per school"] / "outcomes").iterdir())
    assert [p.name for p in split] == ["100001_886_2025-26_outcomes.csv",
                                       "100002_886_2025-26_outcomes.csv"]
    assert split[0].read_text() == "urn,x\n100001,a\n100001,c\n"
    measured = {"year": "2025-26", "repeats": 3, "sources": {"outcomes": {
        "one file": {"files": 1, "rows": 3, "s": 1.5},
        "one per school": {"files": 2, "rows": 3, "s": 3.0}}}}
    table = bench._layout_lines(measured, {"git_commit": "abc1234"})
    assert "| outcomes | one per school | 2 | 3 | 3.00 | 1500.0 | 2.0 |" in table
    assert "| outcomes | one file | 1 | 3 | 1.50 | 1500.0 | 1.0 |" in table
