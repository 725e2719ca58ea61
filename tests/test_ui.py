"""`imf ui` starts the Dagster UI for this code location on 127.0.0.1, and its GraphQL API
lists the assets, checks, jobs, schedules and sensors. The server runs in its own process
group, and the tests signal that group as a shell, a terminal's Ctrl-C or a service
manager does (architecture note: started from a script without job control, `dagster
dev` would otherwise outlive its parent). One signal must stop every process it started,
cleanly, however slow the machine."""

from __future__ import annotations

import contextlib
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


def _signal_state(pid: int) -> str:
    """Blocked, ignored and caught signal masks (Linux), to tell an ignored SIGTERM
    from a slow shutdown."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return ""
    return " ".join(line.replace("\t", "=") for line in status.read_text().splitlines()
                    if line.startswith(("SigBlk", "SigIgn", "SigCgt")))


def _in_groups(pgids: set[int]) -> list[psutil.Process]:
    members = []
    for p in psutil.process_iter(["status"]):
        try:
            if os.getpgid(p.pid) in pgids and p.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(p)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def _describe(processes: list[psutil.Process]) -> str:
    rows = []
    for p in processes:
        with contextlib.suppress(psutil.Error):
            rows.append(f"{p.pid} {p.status()} {' '.join(p.cmdline())[:200]}\n"
                        f"  started {time.time() - p.create_time():.0f} s ago; "
                        f"{_signal_state(p.pid)}")
    return "\n".join(rows)


def _dagster_dev(proc: subprocess.Popen[bytes]) -> psutil.Process:
    (dev,) = [p for p in psutil.Process(proc.pid).children()
              if p.cmdline()[1:4] == ["-m", "dagster", "dev"]]
    return dev


def _stop(proc: subprocess.Popen[bytes], signum: int = signal.SIGTERM,
          pause_dagster_dev_s: float = 0) -> str | None:
    """Send `signum` to imf ui's process group, as a shell or a service manager does;
    then SIGKILL whatever it started that is left after a grace period. None if the
    signal stopped everything; otherwise the processes that were still there.

    `pause_dagster_dev_s`: `dagster dev` is suspended when the signal is sent and for
    that long after, as when a loaded machine is slow to schedule it."""
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    groups = {proc.pid, *(os.getpgid(p.pid) for p in tree if p.is_running())}
    dev = _dagster_dev(proc) if pause_dagster_dev_s else None
    if dev is not None:
        dev.suspend()
    os.killpg(proc.pid, signum)  # start_new_session: the group id is the leader's pid
    if dev is not None:
        time.sleep(pause_dagster_dev_s)
        dev.resume()
    report = _reap(tree, groups)
    proc.wait(timeout=10)
    return report


def _reap(tree: list[psutil.Process], groups: set[int]) -> str | None:
    """Wait up to 30 s for `tree` to stop; then kill what is left of it and of `groups`.
    None if nothing was left; otherwise the processes that were."""
    _, alive = psutil.wait_procs(tree, timeout=30)
    # A process started after the signal (a restarted code server) is in one of the groups.
    left = {p.pid: p for p in [*alive, *_in_groups(groups)]}
    report = _describe(list(left.values())) if left else None
    for p in left.values():
        # PYTHONFAULTHANDLER (set by the fixture): SIGABRT makes each Python process
        # write every thread's stack to the log, so a failure shows where it was stuck.
        with contextlib.suppress(psutil.Error):
            p.send_signal(signal.SIGABRT)
    if left:
        time.sleep(3)
        for p in left.values():
            with contextlib.suppress(psutil.Error):
                p.kill()
    return report


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
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONFAULTHANDLER": "1"}
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
    text = log.read_text()
    assert left is None, (f"imf ui's processes outlived the signal and had to be killed:\n"
                          f"{left}\nIts log, stacks last:\n{text[-20000:]}")
    # `dagster dev` finished its own shutdown rather than being interrupted in it (a
    # second signal there ends it with "Aborted!" and exit 1), and did not start a code
    # server again while stopping.
    assert proc.returncode == 0, text[-3000:]
    assert "Aborted!" not in text
    assert "Restarting the code server" not in text


def test_imf_ui_serves_the_code_location(ui) -> None:
    port, proc, log, stopped = ui
    data = _wait_until_loaded(port, proc, log)

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
    # Started where the instance's dagster.yaml is, `dagster dev` does not claim that
    # the repository's dagster.yaml "will not be used".
    assert "Found a dagster instance configuration" not in log.read_text()

    # Stopped by its process group id, with SIGTERM alone.
    stopped.append(_stop(proc))
    _assert_stopped_cleanly(proc, log, stopped[0])


def test_ctrl_c_stops_everything_even_when_dagster_dev_is_slow_to_react(ui) -> None:
    """Ctrl-C reaches the terminal's whole foreground group. `dagster dev` is held for
    6 s, longer than its 5 s check that its code server is alive: had the code server
    heard the signal itself, it would be gone by then and `dagster dev` would start it
    again, and the new one would outlive the UI (what CI saw under load)."""
    port, proc, log, stopped = ui
    _wait_until_loaded(port, proc, log)
    stopped.append(_stop(proc, signal.SIGINT, pause_dagster_dev_s=6))
    _assert_stopped_cleanly(proc, log, stopped[0])


def test_a_killed_imf_ui_takes_dagster_dev_and_its_servers_with_it(ui) -> None:
    """SIGKILL (`kill -9`, the out-of-memory killer) leaves `imf ui` no chance to pass a
    signal on, and `dagster dev` runs in a group of its own: the kernel tells it instead
    (a parent-death signal), and it stops its webserver, daemon and code servers."""
    port, proc, log, stopped = ui
    _wait_until_loaded(port, proc, log)
    tree = psutil.Process(proc.pid).children(recursive=True)
    groups = {os.getpgid(p.pid) for p in tree if p.is_running()}
    proc.kill()
    proc.wait(timeout=10)
    stopped.append(_reap(tree, groups))
    text = log.read_text()
    assert stopped[0] is None, (f"processes outlived the killed imf ui:\n{stopped[0]}\n"
                                f"Its log, stacks last:\n{text[-20000:]}")
    assert "Restarting the code server" not in text
