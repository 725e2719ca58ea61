"""All IMF_* configuration in one Dagster resource.

Values come from environment variables (documented in the README); the defaults make the
demo work from a fresh clone, keeping everything under the repo's ignored `data/` folder.
"""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path

import dagster as dg

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
SEEDS_DIR = REPO_ROOT / "seeds"
MODELS_DIR = REPO_ROOT / "models"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

ENV_DEFAULTS: dict[str, str] = {
    "IMF_LANDING_DIR": str(DATA_DIR / "landing"),
    "IMF_WAREHOUSE": str(DATA_DIR / "warehouse.duckdb"),
    "IMF_PUBLISH_DIR": str(DATA_DIR / "published"),
    "IMF_SUPPRESSION_THRESHOLD": "10",
    # DuckDB's working memory per connection (it spills to disk beyond it); with the
    # Python around it, a national run peaks below 8 GiB.
    "IMF_DUCKDB_MEMORY_LIMIT": "5GB",
    # How many LA shards a sensor-launched yearly run builds at once (1: in one process).
    "IMF_PARALLEL_SHARDS": "1",
    # Processes rendering the partnership groups' folders when there are many to render
    # (pipelines/publish/groups.py); 1: all in the run's process.
    "IMF_PUBLISH_WORKERS": "2",
}
DEMO_KEY_FILE = DATA_DIR / "pseudonym.key"


class DemoKeyWarning(UserWarning):
    """The pseudonym key was made up locally for the demo, not supplied by the LA."""


def env(name: str) -> str:
    """An IMF_* setting: the environment variable, else the demo default."""
    value = os.environ.get(name, "").strip()
    return value or ENV_DEFAULTS[name]


def ensure_pseudonym_key() -> None:
    """Make sure IMF_PSEUDONYM_KEY is set in this process's environment.

    The resource reads the key through `dg.EnvVar`, so the Dagster UI and run records
    show the variable's name, never its value. Without it (the demo), a random key is
    created once in data/pseudonym.key (mode 600) and reused, with a warning:
    pseudonyms are only stable across runs for as long as that file is kept.
    """
    if os.environ.get("IMF_PSEUDONYM_KEY", "").strip():
        return
    if not DEMO_KEY_FILE.exists():
        DEMO_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(DEMO_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    warnings.warn(
        f"IMF_PSEUDONYM_KEY is not set: using the local demo key in {DEMO_KEY_FILE}. "
        "Set IMF_PSEUDONYM_KEY for real data.",
        DemoKeyWarning,
        stacklevel=2,
    )
    os.environ["IMF_PSEUDONYM_KEY"] = DEMO_KEY_FILE.read_text().strip()


class ImfSettings(dg.ConfigurableResource):
    """Where the pipeline reads and writes, and how it protects small numbers."""

    landing_dir: str
    warehouse: str
    publish_dir: str
    pseudonym_key: str
    suppression_threshold: int = 10
    parallel_shards: int = 1
    publish_workers: int = 2

    @classmethod
    def from_env(cls) -> ImfSettings:
        """Paths and threshold from IMF_* (with demo defaults); the key stays an EnvVar."""
        return cls(
            landing_dir=env("IMF_LANDING_DIR"),
            warehouse=env("IMF_WAREHOUSE"),
            publish_dir=env("IMF_PUBLISH_DIR"),
            pseudonym_key=dg.EnvVar("IMF_PSEUDONYM_KEY"),
            suppression_threshold=int(env("IMF_SUPPRESSION_THRESHOLD")),
            parallel_shards=int(env("IMF_PARALLEL_SHARDS")),
            publish_workers=int(env("IMF_PUBLISH_WORKERS")),
        )

    @property
    def landing_path(self) -> Path:
        return Path(self.landing_dir).resolve()

    @property
    def warehouse_path(self) -> Path:
        return Path(self.warehouse).resolve()

    @property
    def publish_path(self) -> Path:
        return Path(self.publish_dir).resolve()
