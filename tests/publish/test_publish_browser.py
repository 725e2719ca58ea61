"""The reports in headless Chromium: charts render, axe-core finds no violations."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


def _pages(published: Path) -> list[Path]:
    return [published / "index.html", *sorted((published / "groups").glob("*/index.html"))]


@pytest.fixture
def page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    # Offline by construction: any request that is not a local file fails the test.
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    pg = context.new_page()
    yield pg
    context.close()
    assert all(u.startswith(("file://", "data:", "about:")) for u in requests), requests


def test_every_group_page_renders_its_charts(published: Path, page: Any) -> None:
    groups = sorted((published / "groups").glob("*/index.html"))
    assert len(groups) == 2
    for html in groups:
        page.goto(html.as_uri())
        charts = page.locator("svg.chart")
        count = charts.count()
        sections = page.locator("section.indicator").count()
        assert sections >= 8 and count == 2 * sections, html
        for i in range(count):
            chart = charts.nth(i)
            assert chart.is_visible()
            box = chart.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 100
            # Something was drawn, and the chart has an accessible name.
            assert chart.locator("text").count() > 3
            assert chart.get_attribute("role") == "img"
            assert chart.locator("title").count() == 1
        assert page.locator("h1").count() == 1
        assert page.get_attribute("html", "lang") == "en-GB"


@pytest.mark.parametrize("which", ["index", "group-1", "group-2"])
def test_axe_reports_no_violations(published: Path, page: Any, which: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    html = {"index": 0, "group-1": 1, "group-2": 2}[which]
    page.goto(_pages(published)[html].as_uri())
    # Open every "numbers behind the chart" table so axe checks them too.
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    results = Axe().run(page, options=AXE_OPTIONS)
    assert results.violations_count == 0, results.generate_report()


def test_skip_link_moves_focus_to_main(published: Path, page: Any) -> None:
    page.goto(_pages(published)[1].as_uri())
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_screenshot_of_a_group_page(published: Path, page: Any, tmp_path: Path) -> None:
    page.goto((published / "groups" / "202-02" / "index.html").as_uri())
    shot = tmp_path / "group-202-02.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    # A copy in the session tmp dir, for a person to look at after the run.
    keep = tmp_path.parent / "group-report-screenshot.png"
    shutil.copy(shot, keep)
