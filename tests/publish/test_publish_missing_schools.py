"""Each group report lists its schools with no current submission for the latest year.

The fixture warehouse (conftest.py): groups 202-01 (three schools) and 202-02 (three
schools, one of which, URN 100041, sent no pupil voice survey and no spend return for
2025/26); every other school sent every source for every year.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from markupsafe import escape  # what jinja2 autoescape writes

from pipelines.publish.core import missing_schools
from publish.conftest import SCHOOLS

SILENT_SCHOOL = dict(SCHOOLS["202-02"])[100041]


def test_one_query_answers_every_group_and_source(fixture_db: Path) -> None:
    with duckdb.connect(str(fixture_db), read_only=True) as conn:
        found = missing_schools(conn, {
            "202-02": ("2025/26", ["outcomes", "voice", "spend"]),
            "202-01": ("2025/26", ["voice", "spend"]),
            "202-02-earlier": ("2024/25", ["voice"]),  # no such group: nobody is missing
        })
    assert found == {
        "202-02": {"Pupil and family surveys": [SILENT_SCHOOL],
                   "Spending returns": [SILENT_SCHOOL]},
        "202-01": {},
        "202-02-earlier": {},
    }


def test_an_earlier_year_has_nobody_missing(fixture_db: Path) -> None:
    with duckdb.connect(str(fixture_db), read_only=True) as conn:
        assert missing_schools(conn, {"202-02": ("2024/25", ["voice", "spend"])}) == {
            "202-02": {}}


def test_the_reports_say_who_is_missing(published: Path) -> None:
    silent = (published / "groups" / "202-02" / "index.html").read_text(encoding="utf-8")
    assert f"<strong>Spending returns:</strong> {escape(SILENT_SCHOOL)}." in silent
    assert f"<strong>Pupil and family surveys:</strong> {escape(SILENT_SCHOOL)}." \
        in silent
    complete = (published / "groups" / "202-01" / "index.html").read_text(encoding="utf-8")
    assert "Every school in the group sent every kind of data." in complete
