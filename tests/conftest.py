"""Shared fixtures: every test runs against its own temporary landing area, warehouse and
publish folder, with a fixed test pseudonym key, so nothing touches the demo's data/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

TEST_KEY = "test-key-0123456789abcdef-not-a-real-secret"


@dataclass(frozen=True)
class ImfEnv:
    root: Path
    landing: Path
    warehouse: Path
    publish: Path
    key: str


REPO = Path(__file__).resolve().parents[1]


def point_at(root: Path, mp: pytest.MonkeyPatch, key: str = TEST_KEY) -> ImfEnv:
    """IMF_* and DAGSTER_HOME (an instance configured by the repository's dagster.yaml)
    pointing into `root`, for tests that run whole jobs; idempotent, so a test can point
    back at an environment a fixture made."""
    env = ImfEnv(root, root / "landing", root / "warehouse.duckdb", root / "published", key)
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").symlink_to(REPO / "dagster.yaml")
    mp.setenv("IMF_LANDING_DIR", str(env.landing))
    mp.setenv("IMF_WAREHOUSE", str(env.warehouse))
    mp.setenv("IMF_PUBLISH_DIR", str(env.publish))
    mp.setenv("IMF_PSEUDONYM_KEY", env.key)
    mp.setenv("DAGSTER_HOME", str(home))
    return env


@pytest.fixture
def imf_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ImfEnv]:
    """IMF_* variables pointing into a fresh temporary folder."""
    env = ImfEnv(
        root=tmp_path,
        landing=tmp_path / "landing",
        warehouse=tmp_path / "warehouse.duckdb",
        publish=tmp_path / "published",
        key=TEST_KEY,
    )
    for source in ("spend", "allocations", "outcomes", "voice"):
        (env.landing / source).mkdir(parents=True)
    monkeypatch.setenv("IMF_LANDING_DIR", str(env.landing))
    monkeypatch.setenv("IMF_WAREHOUSE", str(env.warehouse))
    monkeypatch.setenv("IMF_PUBLISH_DIR", str(env.publish))
    monkeypatch.setenv("IMF_PSEUDONYM_KEY", env.key)
    monkeypatch.setenv("IMF_SUPPRESSION_THRESHOLD", "10")
    yield env
