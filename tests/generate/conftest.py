"""Demo-scale landing sets generated once per test session (a few seconds each)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipelines.generate import generate

FAULT_RATE = 0.01


@pytest.fixture(scope="session")
def clean_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("clean_demo")
    return out, generate(out, scale="demo", seed=42)


@pytest.fixture(scope="session")
def faulty_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("faulty_demo")
    manifest = generate(out, scale="demo", seed=42, fault_rate=FAULT_RATE)
    assert json.loads((out / "manifest.json").read_text()) == manifest
    return out, manifest
