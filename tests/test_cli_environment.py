"""`imf` refuses a DAGSTER_HOME that is not a folder with one line saying what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_missing_dagster_home_is_refused_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_home"
    env = {"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(missing),
           "IMF_PSEUDONYM_KEY": "k" * 32, "IMF_WAREHOUSE": str(tmp_path / "w.duckdb"),
           "IMF_LANDING_DIR": str(tmp_path / "landing"),
           "IMF_PUBLISH_DIR": str(tmp_path / "published")}
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--no-wait"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout.startswith(f"Not started: DAGSTER_HOME is set to {missing}")
    assert "unset DAGSTER_HOME" in run.stdout
    assert not missing.exists()  # a mistyped path is not silently created
    assert not (tmp_path / "w.duckdb").exists()


def test_imf_ui_hands_dagster_the_paths_as_the_user_meant_them(tmp_path: Path) -> None:
    """`imf ui` runs Dagster from DAGSTER_HOME; a relative IMF_WAREHOUSE typed in the
    user's folder must still name the file there, as it does for `imf run`."""
    from pipelines.cli import absolute_paths

    given = {"IMF_WAREHOUSE": "data/w.duckdb", "IMF_LANDING_DIR": "/srv/landing",
             "IMF_PUBLISH_DIR": "", "IMF_SUPPRESSION_THRESHOLD": "10", "HOME": "h"}
    assert absolute_paths(given, tmp_path) == {
        "IMF_WAREHOUSE": str(tmp_path / "data" / "w.duckdb"),
        "IMF_LANDING_DIR": "/srv/landing",
        "IMF_PUBLISH_DIR": "",  # unset in effect: the default applies
        "IMF_SUPPRESSION_THRESHOLD": "10",
        "HOME": "h",
    }
