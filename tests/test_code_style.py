"""The code stays as the developers' guide asks: ruff and mypy clean, with pyproject's
settings. Checked in the suite so that CI (which runs only the tests) refuses a commit
that skipped them, as one did in the twelfth session (a RUF001 in benchmarks/run.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "MYPY_CACHE_DIR": str(cache),
                               "RUFF_CACHE_DIR": str(cache)})


def test_ruff_finds_nothing(tmp_path: Path) -> None:
    found = _tool("ruff", "check", ".", cache=tmp_path)
    assert found.returncode == 0, found.stdout + found.stderr


def test_mypy_finds_nothing(tmp_path: Path) -> None:
    # The files pyproject's [tool.mypy] names: the package, the benchmark and the tests.
    found = _tool("mypy", cache=tmp_path)
    assert found.returncode == 0, found.stdout + found.stderr
