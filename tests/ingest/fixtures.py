"""Fixtures for the ingest tests (imported by the test modules that use them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.reference.assets import reference_tables
from pipelines.resources.warehouse import Warehouse


@pytest.fixture(scope="session")
def ref_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding only the `ref` tables, built once and copied per test."""
    path = tmp_path_factory.mktemp("reference") / "template.duckdb"
    reference_tables(warehouse=Warehouse(path=str(path)))
    return path


@pytest.fixture
def wh(imf_env: object, ref_template: Path) -> Path:
    """The test's warehouse file, with the reference tables in it."""
    target: Path = imf_env.warehouse  # type: ignore[attr-defined]
    shutil.copyfile(ref_template, target)
    return target
