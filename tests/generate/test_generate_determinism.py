"""Same seed, same bytes (and file times); another seed, other data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pipelines.generate import generate

Demo = tuple[Path, dict[str, Any]]


def _snapshot(out: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(out)): (p.read_bytes(), int(os.stat(p).st_mtime))
            for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files(clean_demo: Demo, tmp_path: Path) -> None:
    out, manifest = clean_demo
    again = generate(tmp_path / "again", scale="demo", seed=42)
    assert again == manifest
    assert _snapshot(tmp_path / "again") == _snapshot(out)


def test_another_seed_gives_other_data(clean_demo: Demo, tmp_path: Path) -> None:
    out, _ = clean_demo
    generate(tmp_path / "other", scale="demo", seed=7, years=1)
    name = "outcomes/806_2025-26_outcomes.csv"
    assert (tmp_path / "other" / name).read_bytes() != (out / name).read_bytes()


def test_progress_is_reported_per_la(tmp_path: Path) -> None:
    messages: list[str] = []
    generate(tmp_path / "one", scale="la", la_code="806", years=1, progress=messages.append)
    assert messages == ["LA 806 Middlesbrough: 1/1"]


def test_refuses_to_mix_with_an_existing_landing_area(clean_demo: Demo) -> None:
    out, _ = clean_demo
    with pytest.raises(FileExistsError):
        generate(out, scale="demo")


@pytest.mark.parametrize("la_code", [None, "999"])
def test_la_scale_needs_a_known_la(tmp_path: Path, la_code: str | None) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, scale="la", la_code=la_code)
