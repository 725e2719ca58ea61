"""The demo pipeline on a Dagster instance whose storage is PostgreSQL
(deploy/dagster-postgres.yaml), against a throwaway local PostgreSQL cluster.

The session fixture installs Debian's `postgresql` when its binaries are missing and we
are root (so `.ci/run` stays the README's one test command), creates a cluster in a temp
folder on a free 127.0.0.1 port, and stops and deletes it afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

pytestmark = pytest.mark.postgres

REPO_ROOT = Path(__file__).resolve().parents[1]
PG_CONFIG = REPO_ROOT / "deploy" / "dagster-postgres.yaml"
PG_USER = "imf"
PG_DB = "dagster"
# As stored in event_logs.dagster_event_type (RUN_SUCCESS keeps its legacy name there).
RUN_SUCCESS = dg.DagsterEventType.RUN_SUCCESS.value
STEP_SUCCESS = dg.DagsterEventType.STEP_SUCCESS.value


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str
    db: str

    def connect(self) -> Any:  # psycopg2 ships no type hints
        import psycopg2

        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password,
            dbname=self.db,
        )


def _pg_bin_dir() -> Path | None:
    """Where initdb/pg_ctl live: Debian keeps them out of PATH, under
    /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _ensure_postgres_installed() -> Path:
    bin_dir = _pg_bin_dir()
    if bin_dir is not None:
        return bin_dir
    if os.geteuid() != 0:
        pytest.skip("PostgreSQL is not installed and we are not root to apt-get it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
        check=True, env=env, capture_output=True,
    )
    bin_dir = _pg_bin_dir()
    assert bin_dir is not None, "apt-get installed postgresql but initdb was not found"
    return bin_dir


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_cluster_owner(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` OS user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = _ensure_postgres_installed()
    # Not pytest's tmp_path: it is mode 700 under root's tree, which the postgres user
    # cannot enter. /tmp is world-traversable.
    root = Path(tempfile.mkdtemp(prefix="imf-pg-"))
    data, socket_dir = root / "data", root / "socket"
    socket_dir.mkdir()
    password = secrets.token_hex(16)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(socket_dir, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    subprocess.run(
        _as_cluster_owner([
            str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, f"--pwfile={pwfile}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
            "--locale=C", "--no-sync",
        ]),
        check=True, capture_output=True,
    )
    options = (
        f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    pg_ctl = str(bin_dir / "pg_ctl")
    subprocess.run(
        _as_cluster_owner([pg_ctl, "-D", str(data), "-o", options, "-l",
                           str(root / "server.log"), "-w", "-t", "60", "start"]),
        check=True, capture_output=True,
    )
    try:
        admin = PgServer("127.0.0.1", port, PG_USER, password, "postgres")
        conn = admin.connect()
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {PG_DB}")
        conn.close()
        yield PgServer("127.0.0.1", port, PG_USER, password, PG_DB)
    finally:
        subprocess.run(
            _as_cluster_owner([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False, capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_demo_run(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, object]]:
    root = tmp_path_factory.mktemp("pg-demo")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(PG_CONFIG)
    mp = pytest.MonkeyPatch()
    for name, value in {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": pg_server.host,
        "DAGSTER_PG_PORT": str(pg_server.port),
        "DAGSTER_PG_USERNAME": pg_server.user,
        "DAGSTER_PG_PASSWORD": pg_server.password,
        "DAGSTER_PG_DB": pg_server.db,
        "IMF_LANDING_DIR": str(root / "landing"),
        "IMF_WAREHOUSE": str(root / "warehouse.duckdb"),
        "IMF_PUBLISH_DIR": str(root / "published"),
        "IMF_PSEUDONYM_KEY": "pg-test-key-not-secret",
    }.items():
        mp.setenv(name, value)
    for source in ("spend", "allocations", "outcomes", "voice"):
        (root / "landing" / source).mkdir(parents=True)

    # One academic year of the demo keeps this test quick; the full three-year demo is
    # covered by test_end_to_end.py on the default (SQLite) instance.
    generate = getattr(importlib.import_module("pipelines.generate"), "generate", None)
    manifest = (
        generate(root / "landing", scale="demo", years=1, seed=11, fault_rate=0.0)
        if generate is not None  # until the generator lands, run on an empty landing area
        else None
    )

    from pipelines.definitions import build_definitions
    from pipelines.runner import run_all

    defs = build_definitions()
    with dg.DagsterInstance.get() as instance:
        result = run_all(defs, instance, progress=lambda _: None)
        runs = instance.get_runs()
        storage = type(instance.run_storage).__name__
    try:
        yield {"result": result, "runs": runs, "storage": storage, "manifest": manifest}
    finally:
        mp.undo()


def test_instance_storage_is_postgres(pg_demo_run: dict) -> None:
    assert pg_demo_run["storage"] == "PostgresRunStorage"


def test_demo_runs_are_recorded_in_postgres_and_succeed(
    pg_demo_run: dict, pg_server: PgServer
) -> None:
    run_ids = set(pg_demo_run["result"].run_ids.values())
    assert run_ids, "run_all launched no Dagster runs"
    with contextlib.closing(pg_server.connect()) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, status FROM runs")
        status = dict(cur.fetchall())
        cur.execute(
            "SELECT run_id, dagster_event_type, count(*) FROM event_logs "
            "WHERE dagster_event_type IN (%s, %s) GROUP BY run_id, dagster_event_type",
            (RUN_SUCCESS, STEP_SUCCESS),
        )
        events = {(run_id, kind): n for run_id, kind, n in cur.fetchall()}
    assert run_ids <= set(status), "runs missing from PostgreSQL's runs table"
    assert {status[run_id] for run_id in run_ids} == {"SUCCESS"}
    # Each run's event log went to PostgreSQL too, and the ingest run did real work.
    assert all(events.get((run_id, RUN_SUCCESS)) == 1 for run_id in run_ids), events
    ingest = next(v for k, v in pg_demo_run["result"].run_ids.items() if k.startswith("ingest"))
    assert events.get((ingest, STEP_SUCCESS), 0) >= 1
    assert all(run.is_success for run in pg_demo_run["runs"])


def test_postgres_config_matches_the_default_instance_apart_from_storage() -> None:
    production = yaml.safe_load(PG_CONFIG.read_text())
    default = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    storage = production.pop("storage")
    assert production == default
    # Credentials come from the environment, never from the file.
    db = storage["postgres"]["postgres_db"]
    assert all(isinstance(value, dict) and set(value) == {"env"} for value in db.values())


def test_postgres_config_is_a_valid_instance_config(pg_server: PgServer, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster itself accepts the file (schema and env var sources), not just YAML."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PG_CONFIG, home / "dagster.yaml")
    for name, value in {
        "DAGSTER_PG_HOST": pg_server.host, "DAGSTER_PG_PORT": str(pg_server.port),
        "DAGSTER_PG_USERNAME": pg_server.user, "DAGSTER_PG_PASSWORD": pg_server.password,
        "DAGSTER_PG_DB": pg_server.db,
    }.items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        started = time.monotonic()
        instance.get_runs(limit=1)
        assert time.monotonic() - started < 10
