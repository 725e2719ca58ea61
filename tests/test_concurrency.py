"""Two runs launched at once never write the warehouse at the same time.

Separate processes (as two Dagster runs, or a run and `imf run`, would be) open write
transactions on the same DuckDB file at the same moment: one waits for the other, and
their write windows, recorded with timestamps, never overlap. With `--no-wait`, the
second gives up at once with a message that says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb

from pipelines.resources.warehouse import WarehouseBusy, writer_lock

REPO = Path(__file__).resolve().parents[1]

WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from pipelines.resources.warehouse import Warehouse

    warehouse, go, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    wh = Warehouse(path=warehouse, lock_timeout_s=60)
    print("ready", flush=True)
    while not go.exists():          # start together, to contend for the file
        time.sleep(0.01)
    asked = time.time()
    with wh.transaction() as conn:
        start = time.time()
        conn.execute("CREATE TABLE IF NOT EXISTS audit.writes (who VARCHAR, started DOUBLE)")
        conn.execute("INSERT INTO audit.writes VALUES (?, ?)", [name, start])
        time.sleep(1.0)             # a step that takes a while
        end = time.time()
    print(json.dumps({"name": name, "asked": asked, "start": start, "end": end}))
    """
)


def _spawn(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, *args], cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def test_two_writers_take_turns(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    go = tmp_path / "go"
    procs = [_spawn([str(warehouse), str(go), name]) for name in ("first", "second")]
    for proc in procs:  # both imported and at the starting line
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    a, b = sorted(results, key=lambda r: r["start"])
    # Both asked within moments of each other, yet the later one started only after the
    # earlier one had committed and closed the file.
    assert abs(a["asked"] - b["asked"]) < 1.0
    assert b["start"] >= a["end"], (a, b)
    conn = duckdb.connect(str(warehouse), read_only=True)
    assert conn.execute("SELECT count(*) FROM audit.writes").fetchone() == (2,)
    conn.close()


def test_no_wait_gives_up_with_a_clear_message(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            """
            import sys, time
            from pathlib import Path
            from pipelines.resources.warehouse import writer_lock
            with writer_lock(Path(sys.argv[1])):
                print("holding", flush=True)
                time.sleep(60)
            """), str(warehouse)],
        cwd=REPO, text=True, stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        try:
            with writer_lock(warehouse, timeout_s=0):
                raise AssertionError("took the lock while another process held it")
        except WarehouseBusy as busy:
            message = str(busy)
        assert time.monotonic() - started < 2
        assert "is being written by another run" in message
        assert str(warehouse) in message

        # The real CLI says so and exits 3 at once, without touching the warehouse: it
        # takes the lock before it loads the code location.
        env = {**os.environ, "IMF_WAREHOUSE": str(warehouse),
               "IMF_LANDING_DIR": str(tmp_path / "landing"),
               "IMF_PUBLISH_DIR": str(tmp_path / "published"),
               "IMF_PSEUDONYM_KEY": "test-key-not-secret", "DAGSTER_HOME": str(tmp_path)}
        cli = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "run", "--no-wait"], cwd=REPO, env=env,
            text=True, capture_output=True, timeout=120,
        )
        assert cli.returncode == 3, cli.stdout + cli.stderr
        assert "Not started" in cli.stdout, cli.stdout + cli.stderr
        assert "another run is writing the warehouse" in cli.stdout
        assert not warehouse.exists()
    finally:
        holder.kill()
        holder.wait()
