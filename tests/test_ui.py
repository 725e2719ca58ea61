"""`imf ui` starts the Dagster UI for this code location on 127.0.0.1, and its GraphQL API
lists the assets, checks, jobs, schedules and sensors. The server runs in its own process
group and the tests stop it by that group's id, as a shell or a service manager does, or
by signalling its first process alone, as a service manager that signals the main process
does (architecture note: started from a script without job control, `dagster dev` would
otherwise outlive its parent). Either way SIGTERM alone must stop every process, cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 150

QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        assetNodes {
          assetKey { path }
          groupName
          assetChecksOrError { __typename ... on AssetChecks { checks { name } } }
        }
        pipelines { name }
        schedules { name cronSchedule executionTimezone }
        sensors { name }
      }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _group_members(pgid: int) -> str:
    """The processes still in the group, with their state and command line."""
    rows = []
    for p in psutil.process_iter(["pid", "status", "cmdline"]):
        try:
            if os.getpgid(p.info["pid"]) == pgid:
                rows.append(f"{p.info['pid']} {p.info['status']} "
                            f"{' '.join(p.info['cmdline'] or [])[:200]}")
        except (ProcessLookupError, psutil.Error):
            continue
    return "\n".join(rows)


def _stop(proc: subprocess.Popen[bytes], *, whole_group: bool = True) -> str | None:
    """SIGTERM the whole process group (dagster dev, webserver, daemon, code servers) or
    its leader alone, then SIGKILL whatever is left after a grace period. None if SIGTERM
    did; otherwise the processes that were still there."""
    pgid = proc.pid  # start_new_session: the group id is the leader's pid
    if _group_alive(pgid):
        if whole_group:
            os.killpg(pgid, signal.SIGTERM)
        else:
            os.kill(pgid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _group_alive(pgid) and time.monotonic() < deadline:
        proc.poll()
        time.sleep(0.2)
    left = _group_members(pgid) if _group_alive(pgid) else None
    if left is not None:
        os.killpg(pgid, signal.SIGKILL)
    proc.wait(timeout=10)
    return left


def _like_a_background_job() -> None:
    # What a shell without job control does to `cmd &`: SIGINT ignored, inherited by
    # every child. `dagster dev` maps SIGTERM onto its SIGINT handling, so without care
    # in `imf ui` the server would then ignore SIGTERM too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def ui(imf_env, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes], Path, list]]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(REPO / "dagster.yaml")
    port = _free_port()
    log = tmp_path / "ui.log"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "ui", "--port", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped by id below
            preexec_fn=_like_a_background_job,
        )
    stopped: list[str | None] = []
    try:
        yield port, proc, log, stopped
    finally:
        if not stopped:
            _stop(proc)


def _wait_until_loaded(port: int, proc: subprocess.Popen[bytes], log: Path) -> dict:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            data = _graphql(port, QUERY)["data"]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1)
            continue
        entries = data["workspaceOrError"]["locationEntries"]
        # The location may still be loading (locationOrLoadError null) for a while.
        if entries and all(e["locationOrLoadError"] for e in entries):
            return dict(data)
        time.sleep(1)
    pytest.fail(f"UI did not load within {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def _assert_stopped_cleanly(proc: subprocess.Popen[bytes], log: Path, left: str | None) -> None:
    assert left is None, f"imf ui ignored SIGTERM and had to be killed; left:\n{left}"
    # `dagster dev` finished its own shutdown (code servers included) rather than being
    # interrupted in it: a second signal there ends it with "Aborted!" and exit 1.
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert "Aborted!" not in log.read_text()


def test_imf_ui_serves_the_code_location(ui) -> None:
    port, proc, log, stopped = ui
    data = _wait_until_loaded(port, proc, log)
    # imf has become `dagster dev` (exec), so nothing passes signals on a second time.
    assert psutil.Process(proc.pid).cmdline()[1:4] == ["-m", "dagster", "dev"]

    (entry,) = data["workspaceOrError"]["locationEntries"]
    loaded = entry["locationOrLoadError"]
    assert loaded["__typename"] == "RepositoryLocation", loaded.get("message", loaded)
    (repo,) = data["repositoriesOrError"]["nodes"]

    assets = {"/".join(n["assetKey"]["path"]): n for n in repo["assetNodes"]}
    assert "ref/reference_tables" in assets
    assert "indicators/published_values" in assets
    checks = [c["name"] for n in assets.values()
              if n["assetChecksOrError"]["__typename"] == "AssetChecks"
              for c in n["assetChecksOrError"]["checks"]]
    assert checks, "no asset checks listed"
    assert {"ingest", "yearly_models", "publish", "nightly_audit"} <= {
        p["name"] for p in repo["pipelines"]
    }
    schedules = {s["name"]: s for s in repo["schedules"]}
    assert set(schedules) == {"termly_publication", "nightly_audit"}
    assert schedules["termly_publication"]["executionTimezone"] == "Europe/London"
    assert {s["name"] for s in repo["sensors"]} == {
        "landing_files", "models_then_publish", "run_failure_summary"
    }
    assert f"Dagster UI on http://127.0.0.1:{port}" in log.read_text()

    # Stopped by its process group id, with SIGTERM alone.
    stopped.append(_stop(proc))
    _assert_stopped_cleanly(proc, log, stopped[0])


def test_sigterm_to_imf_ui_alone_stops_every_process_it_started(ui) -> None:
    """A service manager that signals only the main process: `dagster dev` stops its
    webserver, daemon and code servers itself."""
    port, proc, log, stopped = ui
    _wait_until_loaded(port, proc, log)
    stopped.append(_stop(proc, whole_group=False))
    _assert_stopped_cleanly(proc, log, stopped[0])
