"""Process environment the `imf` commands share: Dagster instance home, secrets, quiet
third-party analytics. Applied once at the start of a command, never at import."""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.settings import DATA_DIR, REPO_ROOT, ensure_pseudonym_key

DEFAULT_DAGSTER_HOME = DATA_DIR / "dagster_home"


class MissingDagsterHome(RuntimeError):
    """DAGSTER_HOME is set to a folder that does not exist."""


def prepare_environment() -> Path:
    """Set the defaults the commands rely on and return DAGSTER_HOME.

    Unless the user sets DAGSTER_HOME, the instance lives in data/dagster_home/ whose
    dagster.yaml is a link to the repository's, so `imf run`, `imf ui` and the tests
    all use the instance configuration under version control.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    ensure_pseudonym_key()
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if home:
        # Dagster would stop later with a traceback; an analyst needs the fix in one line.
        # Not created here: a mistyped path would silently start an empty instance.
        if not Path(home).is_dir():
            raise MissingDagsterHome(
                f"DAGSTER_HOME is set to {home}, which is not a folder. Create it and copy "
                f"{REPO_ROOT / 'dagster.yaml'} into it, or unset DAGSTER_HOME to use "
                f"{DEFAULT_DAGSTER_HOME}.")
        return Path(home)
    DEFAULT_DAGSTER_HOME.mkdir(parents=True, exist_ok=True)
    link = DEFAULT_DAGSTER_HOME / "dagster.yaml"
    if not link.is_symlink():
        link.unlink(missing_ok=True)
        link.symlink_to(REPO_ROOT / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(DEFAULT_DAGSTER_HOME)
    return DEFAULT_DAGSTER_HOME
