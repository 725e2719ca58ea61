"""The committed GX project (expectations/) is exactly what the code generates, so every
rule change shows up in review both as code and as the JSON GX runs."""

from __future__ import annotations

from pipelines.audit.suite_specs import SUITES_DIR, all_suites, render
from pipelines.resources.gx import render_project_config
from pipelines.settings import EXPECTATIONS_DIR


def test_committed_suites_match_code() -> None:
    specs = all_suites()
    assert {p.name for p in SUITES_DIR.glob("*.json")} == {f"{s.name}.json" for s in specs}
    for spec in specs:
        assert (SUITES_DIR / f"{spec.name}.json").read_text(encoding="utf-8") == render(spec), (
            f"{spec.name}: run `uv run python -m pipelines.audit.suite_specs`")


def test_committed_project_config_matches_code() -> None:
    committed = (EXPECTATIONS_DIR / "great_expectations.yml").read_text(encoding="utf-8")
    assert committed == render_project_config()


def test_every_expectation_has_a_severity_and_a_reason() -> None:
    for spec in all_suites():
        for exp in spec.expectations:
            assert exp["meta"]["severity"] in ("critical", "warning")
            assert exp["severity"] == exp["meta"]["severity"]
            assert exp["meta"]["why"]
