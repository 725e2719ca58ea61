"""A small fixture warehouse for the publishing tests, and a headless Chromium.

The warehouse has exactly the docs/warehouse.md schemas of the tables publishing reads,
with realistic values: two partnership groups in Camden, three academic years, the five
SEN breakdowns, the local authority and national roll-ups, and cells suppressed (c),
not applicable (z) and not available (x) the way disclosure control leaves them.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from pipelines.catalog import IndicatorMeta, indicator_catalog

THRESHOLD = 10
YEARS = ("2023/24", "2024/25", "2025/26")
LA = ("202", "E09000007", "Camden")
GROUPS = {"202-01": "Camden partnership group 1", "202-02": "Camden partnership group 2"}
SCHOOLS = {
    "202-01": [(100010, "Argyle Primary School"), (100015, "Netley Primary School"),
               (100032, "Regent High School")],
    "202-02": [(100040, "Gospel Oak Primary School"),
               (100041, '<script>alert("pwned")</script> Academy'),
               (100042, "Haverstock School")],
}
SEN_CODES = ("N", "K", "E")
# (kind, rate for N, K, E); the rates are invented but in realistic ranges.
INDICATORS: dict[str, tuple[str, tuple[float, float, float]]] = {
    "belonging_percent": ("person", (0.79, 0.63, 0.57)),
    "wellbeing_percent": ("person", (0.74, 0.58, 0.52)),
    "persistent_absence_percent": ("person", (0.14, 0.27, 0.33)),
    "suspended_percent": ("person", (0.02, 0.07, 0.11)),
    "plan_reviewed_percent": ("person", (0.0, 0.71, 0.88)),
    "expected_standard_percent": ("person", (0.66, 0.29, 0.12)),
    "attendance_percent": ("weighted", (0.935, 0.905, 0.885)),
    "mainstream_time_percent": ("weighted", (0.92, 0.84, 0.71)),
}
SEN_ONLY = {"plan_reviewed_percent"}
TITLES = {
    "belonging_percent": ("Belonging", "the share of pupils who feel they belong at school",
                          "children who feel they belong learn and attend better",
                          "higher is better"),
    "wellbeing_percent": ("Wellbeing", "the share of pupils reporting good wellbeing",
                          "how children feel is an outcome in itself", "higher is better"),
    "persistent_absence_percent": ("Persistent absence",
                                   "the share of pupils missing 10% or more of sessions",
                                   "children who miss school miss learning and friends",
                                   "lower is better"),
    "suspended_percent": ("Suspensions", "the share of pupils suspended at least once",
                          "a suspension often means a child's needs were not met",
                          "lower is better, but low is not the same as inclusive"),
    "plan_reviewed_percent": ("Plans reviewed", "the share of SEN pupils whose plan was "
                              "reviewed this year", "a plan not reviewed cannot be honest",
                              "higher is better"),
    "expected_standard_percent": ("Expected standard", "the share of pupils meeting the "
                                  "expected standard", "learning matters for every child",
                                  "higher is better"),
    "attendance_percent": ("Attendance", "the share of possible sessions pupils attended",
                           "being in school is the first step", "higher is better"),
    "mainstream_time_percent": ("Time in mainstream lessons", "the share of attended "
                                "sessions inclusion-base users spent in mainstream lessons",
                                "an inclusion base should support, not replace, lessons",
                                "higher is better"),
}
BASE_SIZES = {"202-01": (420, 64, 15), "202-02": (380, 47, 6)}


def wilson(num: float, den: float, z: float = 1.959964) -> tuple[float, float]:
    p = num / den
    centre = (p + z * z / (2 * den)) / (1 + z * z / den)
    half = z * math.sqrt(p * (1 - p) / den + z * z / (4 * den * den)) / (1 + z * z / den)
    return 100 * (centre - half), 100 * (centre + half)


@dataclass
class Cell:
    num: float
    den: float
    pupils: int
    suppressed: bool = False


def _generate() -> dict[tuple[str, str, str, str], Cell]:
    """(group, year, indicator, N|K|E) -> base cell."""
    rng = random.Random(7)
    cells = {}
    for gid, sizes in BASE_SIZES.items():
        for y, year in enumerate(YEARS):
            for ind, (kind, rates) in INDICATORS.items():
                for code, size, rate in zip(SEN_CODES, sizes, rates, strict=True):
                    if ind in SEN_ONLY and code == "N":
                        continue
                    pupils = size + rng.randint(-3, 3) + y * (2 if code == "K" else 0)
                    shift = (0.02 * y if code != "N" else 0.005 * y) * (1 if rate < 0.5 else -1)
                    r = min(0.98, max(0.01, rate - shift + rng.uniform(-0.03, 0.03)))
                    den = pupils * 380 if kind == "weighted" else pupils
                    if ind == "mainstream_time_percent":
                        den = max(1, pupils // 4) * 350
                    cells[(gid, year, ind, code)] = Cell(round(r * den), den, pupils)
    return cells


def _primary(c: Cell, kind: str) -> bool:
    if kind == "weighted":
        return c.pupils < THRESHOLD
    return c.den < THRESHOLD or c.num in (1, 2) or c.den - c.num in (1, 2)


def _fmt(x: float, dp: int) -> str:
    return f"{x:.{dp}f}"


def build_warehouse(
    path: Path,
    group_names: dict[str, str] | None = None,
    school_names: dict[int, str] | None = None,
) -> Path:
    """Write the fixture warehouse to `path` (a DuckDB file)."""
    group_names = {**GROUPS, **(group_names or {})}
    conn = duckdb.connect(str(path))
    for schema in ("ref", "audit", "indicators"):
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    conn.execute("""CREATE TABLE ref.schools (urn BIGINT, laestab BIGINT, la_code VARCHAR,
        new_la_code VARCHAR, la_name VARCHAR, region_code VARCHAR, region_name VARCHAR,
        school_name VARCHAR, phase VARCHAR, establishment_type VARCHAR, is_mainstream BOOLEAN,
        trust VARCHAR, district_code VARCHAR, ward_code VARCHAR, headcount_pupils BIGINT)""")
    conn.execute("""CREATE TABLE ref.partnership_groups (group_id VARCHAR, group_name VARCHAR,
        la_code VARCHAR, district_code VARCHAR)""")
    conn.execute("""CREATE TABLE ref.group_membership (urn BIGINT, group_id VARCHAR,
        from_year VARCHAR, to_year VARCHAR)""")
    conn.execute("""CREATE TABLE audit.submission_units (source VARCHAR, submission_id VARCHAR,
        urn BIGINT, academic_year VARCHAR, term VARCHAR, rows_loaded BIGINT, is_current BOOLEAN,
        superseded_by VARCHAR)""")
    conn.execute("""CREATE TABLE indicators.published_values (level VARCHAR, la_code VARCHAR,
        group_id VARCHAR, academic_year VARCHAR, sen_breakdown VARCHAR, indicator_id VARCHAR,
        kind VARCHAR, numerator VARCHAR, denominator VARCHAR, value VARCHAR, ci_lower VARCHAR,
        ci_upper VARCHAR, gap_pp VARCHAR, change_pp VARCHAR)""")
    conn.execute("""CREATE TABLE indicators.spend_context (level VARCHAR, la_code VARCHAR,
        group_id VARCHAR, academic_year VARCHAR, indicator_id VARCHAR, value DOUBLE)""")
    conn.execute("""CREATE TABLE indicators.coverage (level VARCHAR, la_code VARCHAR,
        group_id VARCHAR, academic_year VARCHAR, source VARCHAR, schools_in_group BIGINT,
        schools_reporting BIGINT, value DOUBLE)""")

    la_code, new_code, la_name = LA
    for group_id, name in group_names.items():
        conn.execute("INSERT INTO ref.partnership_groups VALUES (?, ?, ?, ?)",
                     [group_id, name, la_code, new_code])
        for i, (urn, school) in enumerate(SCHOOLS[group_id]):
            school = (school_names or {}).get(urn, school)
            conn.execute(
                "INSERT INTO ref.schools VALUES (?, ?, ?, ?, ?, 'E12000007', 'London', ?, "
                "'State-funded primary', 'Academy converter', true, NULL, ?, 'E05013660', 300)",
                [urn, 2022000 + i, la_code, new_code, la_name, school, new_code])
            conn.execute("INSERT INTO ref.group_membership VALUES (?, ?, '2020/21', NULL)",
                         [urn, group_id])
            for year in YEARS:
                for source in ("outcomes", "voice", "spend", "allocations"):
                    # One school has not sent its voice survey or spend for the latest year.
                    if urn == 100041 and year == YEARS[-1] and source in ("voice", "spend"):
                        continue
                    conn.execute(
                        "INSERT INTO audit.submission_units VALUES (?, ?, ?, ?, NULL, 100, "
                        "true, NULL)", [source, f"sub-{urn}-{year}", urn, year])

    base = _generate()
    for (_gid, _year, ind, _code), cell in base.items():
        cell.suppressed = _primary(cell, INDICATORS[ind][0])
    # Secondary suppression: within the breakdown (All SEN = K + E) and across the groups
    # (the LA is the sum of its groups), the next smallest cell goes too.
    for _ in range(2):
        for group_id in GROUPS:
            for year in YEARS:
                for ind in INDICATORS:
                    k = base.get((group_id, year, ind, "K"))
                    e = base.get((group_id, year, ind, "E"))
                    if k and e and (k.suppressed != e.suppressed):
                        k.suppressed = e.suppressed = True
        for year in YEARS:
            for ind in INDICATORS:
                for code in SEN_CODES:
                    pair = [base.get((g, year, ind, code)) for g in GROUPS]
                    cells = [c for c in pair if c]
                    if sum(c.suppressed for c in cells) == 1:
                        for c in cells:
                            c.suppressed = True

    breakdowns = {
        "All pupils": ("N", "K", "E"),
        "All SEN provision": ("K", "E"),
        "Education, health and care plan": ("E",),
        "SEN support / SEN without an EHC plan": ("K",),
        "No SEN provision": ("N",),
    }
    levels: list[tuple[str, str | None, str | None, tuple[str, ...]]] = [
        ("partnership_group", la_code, g, (g,)) for g in GROUPS
    ]
    levels += [("local_authority", la_code, None, tuple(GROUPS)),
               ("national", None, None, tuple(GROUPS))]
    rows = []
    for level, la, gid, members in levels:
        for ind, (kind, _) in INDICATORS.items():
            previous: dict[str, float | None] = {}
            for y, year in enumerate(YEARS):
                values: dict[str, tuple[Cell, float] | None] = {}
                for label, codes in breakdowns.items():
                    parts = [base[(g, year, ind, c)] for g in members for c in codes
                             if (g, year, ind, c) in base]
                    if not parts:
                        values[label] = None
                        continue
                    total = Cell(sum(p.num for p in parts), sum(p.den for p in parts),
                                 sum(p.pupils for p in parts))
                    # A roll-up is hidden only where it is itself small (its parts' hiding
                    # is handled by the secondary rules above).
                    total.suppressed = (
                        parts[0].suppressed if len(parts) == 1 else _primary(total, kind)
                    )
                    values[label] = (total, 100 * total.num / total.den)
                nosen = values.get("No SEN provision")
                for label, item in values.items():
                    if item is None:
                        continue
                    cell, value = item
                    prev = previous.get(label)
                    if cell.suppressed:
                        rows.append((level, la, gid, year, label, ind, kind, *["c"] * 7))
                        previous[label] = None
                        continue
                    lo, hi = wilson(cell.num, cell.den) if kind == "person" else (None, None)
                    if label == "No SEN provision" or nosen is None:
                        gap = "z"
                    elif nosen[0].suppressed:
                        gap = "c"
                    else:
                        gap = _fmt(round(value, 1) - round(nosen[1], 1), 1)
                    change = "x" if y == 0 else (
                        "c" if prev is None else _fmt(round(value, 1) - round(prev, 1), 1))
                    rows.append((
                        level, la, gid, year, label, ind, kind, _fmt(cell.num, 0),
                        _fmt(cell.den, 0), _fmt(value, 1),
                        "z" if lo is None else _fmt(lo, 1), "z" if hi is None else _fmt(hi, 1),
                        gap, change,
                    ))
                    previous[label] = value
    conn.executemany("INSERT INTO indicators.published_values VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    spend_rows = []
    for level, la, gid, _ in levels:
        for y, year in enumerate(YEARS):
            bump = {"202-01": 0.0, "202-02": 14.0}.get(gid or "", 7.0)
            spend_rows += [
                (level, la, gid, year, "spend_per_pupil_gbp", 182.4 + 11 * y + bump),
                (level, la, gid, year, "systemic_spend_percent", 48.2 + 3.1 * y),
                (level, la, gid, year, "individual_spend_percent", 51.8 - 3.1 * y),
                (level, la, gid, year, "allocation_spent_percent",
                 None if y == 0 else 88.5 + 2 * y),
            ]
    conn.executemany("INSERT INTO indicators.spend_context VALUES (?, ?, ?, ?, ?, ?)",
                     spend_rows)
    cov_rows = []
    for level, la, gid, members in levels:
        for year in YEARS:
            for source in ("outcomes", "voice", "spend", "allocations"):
                n = 3 * len(members)
                missing = int(year == YEARS[-1] and source in ("voice", "spend")
                              and "202-02" in members)
                cov_rows.append((level, la, gid, year, source, n, n - missing,
                                 100 * (n - missing) / n))
    conn.executemany("INSERT INTO indicators.coverage VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     cov_rows)
    conn.close()
    return path


def write_catalog(models_dir: Path) -> tuple[IndicatorMeta, ...]:
    folder = models_dir / "indicators"
    folder.mkdir(parents=True, exist_ok=True)
    for ind, (title, measures, why, read) in TITLES.items():
        kind = INDICATORS[ind][0]
        (folder / f"ind_{ind}.sql").write_text(
            f"-- id: {ind}\n-- title: {title}\n-- kind: {kind}\n-- measures: {measures}\n"
            f"-- why: {why}\n-- read: {read}\nSELECT 1\n"
        )
    return indicator_catalog(models_dir)


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[IndicatorMeta, ...]:
    return write_catalog(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")


@pytest.fixture(scope="session")
def published(
    tmp_path_factory: pytest.TempPathFactory, fixture_db: Path,
    catalog: tuple[IndicatorMeta, ...],
) -> Path:
    """One real publication from the fixture warehouse, shared by the read-only tests."""
    from pipelines.publish.core import publish_public

    publish_dir = tmp_path_factory.mktemp("published")
    conn = duckdb.connect(str(fixture_db), read_only=True)
    try:
        publish_public(conn, publish_dir, THRESHOLD, catalog)
    finally:
        conn.close()
    return publish_dir / "public"


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium; installed with apt when missing and we are root (never
    `playwright install`, which downloads a browser and fails here)."""
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip("chromium is not installed and cannot be installed here")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, env=env,
                       capture_output=True)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
