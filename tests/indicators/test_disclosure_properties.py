"""Property tests: for random small populations, disclosure control leaves nothing that
can be read off or worked out by subtraction, and Wilson intervals behave.

The populations are group-level counts per SEN provision; the tests roll them up
themselves (plain sums), so they do not lean on the SQL they are checking.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import product

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.indicators.assets import write_published
from pipelines.indicators.disclosure import (
    ALL,
    ALL_SEN,
    BREAKDOWNS,
    EHC,
    NO_SEN,
    SUPPORT,
    Cell,
    CellKey,
    publish,
    suppress,
)
from pipelines.indicators.verify import verify_published
from pipelines.models import load_models, run_model

YEAR = "2025/26"
INDICATOR = "some_percent"
KEY_COLUMNS = ("level", "la_code", "group_id", "academic_year", "sen_breakdown", "indicator_id")
PROVISIONS = {ALL: "NKE", ALL_SEN: "KE", EHC: "E", SUPPORT: "K", NO_SEN: "N"}
Z = 1.959963984540054
BOUNDED = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Population:
    kind: str
    threshold: int
    sen_only: frozenset[str]  # {INDICATOR} when only pupils with SEN are counted
    # (la_code, group_id, provision) -> (numerator, denominator, pupils)
    atoms: dict[tuple[str, str, str], tuple[int, int, int]]


@st.composite
def populations(draw: st.DrawFn) -> Population:
    kind = draw(st.sampled_from(["person", "weighted"]))
    threshold = draw(st.sampled_from([5, 10]))
    sen_only = draw(st.booleans())
    atoms = {}
    for la in range(draw(st.integers(1, 3))):
        for g in range(draw(st.integers(1, 3))):
            for provision in "NKE":
                # Small counts, often below the threshold, with numerators near 0 and n.
                pupils = 0 if sen_only and provision == "N" else draw(st.integers(0, 30))
                num = draw(st.integers(0, pupils))
                if kind == "person":
                    atoms[(f"L{la}", f"L{la}G{g}", provision)] = (num, pupils, pupils)
                else:  # sessions: several per pupil
                    per = draw(st.integers(1, 9))
                    atoms[(f"L{la}", f"L{la}G{g}", provision)] = (num * per, pupils * per, pupils)
    return Population(kind, threshold, frozenset({INDICATOR} if sen_only else ()), atoms)


def key_of(row: Mapping[str, str | None]) -> CellKey:
    """The key of a published row (whose optional columns may be empty)."""
    level, la, group, year, breakdown, indicator = (row[k] for k in KEY_COLUMNS)
    assert level and year and breakdown and indicator, row
    return CellKey(level, la, group, year, breakdown, indicator)


def cells_of(pop: Population) -> list[Cell]:
    """Every level and breakdown, by summing the atoms (a test-side roll-up)."""
    places: dict[tuple[str, str | None, str | None], list[tuple[str, str, str]]] = {}
    for atom in pop.atoms:
        atom_la, atom_group, _ = atom
        places.setdefault(("partnership_group", atom_la, atom_group), []).append(atom)
        places.setdefault(("local_authority", atom_la, None), []).append(atom)
        places.setdefault(("national", None, None), []).append(atom)
    cells = []
    for (level, la, group), atoms in places.items():
        for breakdown, provisions in PROVISIONS.items():
            chosen = [pop.atoms[a] for a in atoms if a[2] in provisions]
            num = sum(a[0] for a in chosen)
            den = sum(a[1] for a in chosen)
            pupils = sum(a[2] for a in chosen)
            value = 100 * num / den if den else None
            key = CellKey(level, la, group, YEAR, breakdown, INDICATOR)
            cells.append(Cell(key, pop.kind, float(num), float(den), pupils, value))
    return cells


def equations(keys: set[CellKey]) -> list[tuple[CellKey, list[CellKey]]]:
    """What a reader can add up: the SEN breakdown of each place, and the geography."""
    eqs = []
    places = {(k.level, k.la_code, k.group_id) for k in keys}
    for level, la, group in places:

        def at(
            b: str, level: str = level, la: str | None = la, group: str | None = group
        ) -> CellKey:
            return CellKey(level, la, group, YEAR, b, INDICATOR)

        eqs.append((at(ALL), [at(NO_SEN), at(SUPPORT), at(EHC)]))
        eqs.append((at(ALL_SEN), [at(SUPPORT), at(EHC)]))
        eqs.append((at(ALL), [at(NO_SEN), at(ALL_SEN)]))
    for b in BREAKDOWNS:
        las = sorted({k.la_code for k in keys
                      if k.level == "local_authority" and k.la_code is not None})
        for la in las:
            groups = [
                k
                for k in keys
                if k.level == "partnership_group" and k.la_code == la and k.sen_breakdown == b
            ]
            eqs.append((CellKey("local_authority", la, None, YEAR, b, INDICATOR), groups))
        eqs.append(
            (
                CellKey("national", None, None, YEAR, b, INDICATOR),
                [CellKey("local_authority", la, None, YEAR, b, INDICATOR) for la in las],
            )
        )
    return eqs


@BOUNDED
@given(populations())
def test_nothing_small_is_published(pop: Population) -> None:
    cells = cells_of(pop)
    rows = publish(cells, suppress(cells, pop.threshold, pop.sen_only), pop.sen_only)
    by_key = {c.key: c for c in cells}
    for row in rows:
        figures = [
            row[c]
            for c in (
                "numerator",
                "denominator",
                "value",
                "ci_lower",
                "ci_upper",
                "gap_pp",
                "change_pp",
            )
        ]
        assert all(f not in (None, "") for f in figures)
        assert all(
            f in {"c", "z", "x"} or f.lstrip("-").replace(".", "", 1).isdigit()
            for f in figures
            if f is not None
        )
        if row["value"] == "c":
            continue
        if row["value"] == "z":  # not applicable: must hold nobody
            assert pop.sen_only and row["sen_breakdown"] == NO_SEN
            assert set(figures) == {"z"}
            continue
        key = key_of(row)
        cell = by_key[key]
        assert cell.pupils >= pop.threshold
        if pop.kind == "person":
            num, den = int(row["numerator"]), int(row["denominator"])  # type: ignore[arg-type]
            assert den >= pop.threshold
            assert num not in (1, 2) and den - num not in (1, 2)


@BOUNDED
@given(populations())
def test_no_suppressed_cell_can_be_worked_out(pop: Population) -> None:
    cells = cells_of(pop)
    decided = suppress(cells, pop.threshold, pop.sen_only)
    keys = {c.key for c in cells}
    # The attacker knows every published numerator and denominator, and every equation;
    # any equation with one unknown gives it away, and what they learn may unlock more.
    known: dict[CellKey, tuple[float, float]] = {}
    for r in publish(cells, decided, pop.sen_only):
        if r["value"] == "c":
            continue
        key = key_of(r)
        # A `z` cell has no pupils by definition: the reader knows it is zero.
        known[key] = (
            (0.0, 0.0)
            if r["value"] == "z"
            else (float(str(r["numerator"])), float(str(r["denominator"])))
        )
    eqs = equations(keys)
    for total, parts in eqs:
        hidden = [k for k in (total, *parts) if k in decided]
        assert len(hidden) != 1, (total, parts, hidden)
    changed = True
    while changed:
        changed = False
        for total, parts in eqs:
            unknown = [k for k in (total, *parts) if k not in known]
            if len(unknown) != 1:
                continue
            (k,) = unknown
            if k == total:
                known[k] = (sum(known[p][0] for p in parts), sum(known[p][1] for p in parts))
            else:
                rest = [p for p in parts if p != k]
                known[k] = (
                    known[total][0] - sum(known[p][0] for p in rest),
                    known[total][1] - sum(known[p][1] for p in rest),
                )
            changed = True
    assert not (set(known) & set(decided))


@pytest.fixture(scope="module")
def values_conn() -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(":memory:")
    for schema in ("indicators", "audit"):
        conn.execute(f"CREATE SCHEMA {schema}")
    yield conn
    conn.close()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(populations())
def test_the_independent_check_agrees(
    values_conn: duckdb.DuckDBPyConnection, pop: Population
) -> None:
    cells = cells_of(pop)
    values_conn.execute(
        "CREATE OR REPLACE TABLE indicators.indicator_values (level VARCHAR, la_code VARCHAR,"
        " group_id VARCHAR, academic_year VARCHAR, sen_breakdown VARCHAR,"
        " indicator_id VARCHAR, kind VARCHAR, numerator DOUBLE, denominator DOUBLE,"
        " pupils BIGINT, value DOUBLE, ci_lower DOUBLE, ci_upper DOUBLE, gap_pp DOUBLE,"
        " change_pp DOUBLE)"
    )
    values_conn.executemany(
        "INSERT INTO indicators.indicator_values VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL)",
        [(*c.key, c.kind, c.numerator, c.denominator, c.pupils, c.value) for c in cells],
    )
    write_published(values_conn, pop.threshold, pop.sen_only)
    assert verify_published(values_conn, pop.threshold) == []


# --- Wilson intervals, computed by the indicator_values model itself -------------------

PERSON_OR_WEIGHTED = [
    m
    for m in load_models()
    if m.layer == "indicators"
    and m.name.startswith("ind_")
    and m.header.get("kind") in ("person", "weighted")
]
INDICATOR_VALUES = next(m for m in load_models() if m.table == "indicators.indicator_values")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3), st.sampled_from("NKE"), st.integers(0, 60), st.integers(0, 60)
        ),
        min_size=1,
        max_size=12,
    )
)
def test_wilson_bounds_bracket_the_rate(
    values_conn: duckdb.DuckDBPyConnection, counts: list[tuple[int, str, int, int]]
) -> None:
    for model in PERSON_OR_WEIGHTED:
        values_conn.execute(
            f"CREATE OR REPLACE TABLE {model.table} (la_code VARCHAR, group_id VARCHAR, "
            "academic_year VARCHAR, sen_provision VARCHAR, numerator DOUBLE, "
            "denominator DOUBLE, pupils BIGINT)"
        )
    values_conn.executemany(
        "INSERT INTO indicators.ind_suspended_percent VALUES ('201', ?, ?, ?, ?, ?, ?)",
        [(f"G{g}", YEAR, p, min(a, b), max(a, b), max(a, b)) for g, p, a, b in counts],
    )
    run_model(values_conn, INDICATOR_VALUES)
    rows = values_conn.execute(
        "SELECT numerator, denominator, value, ci_lower, ci_upper "
        "FROM indicators.indicator_values WHERE denominator > 0"
    ).fetchall()
    for x, n, value, lower, upper in rows:
        assert 0.0 <= lower <= value <= upper <= 100.0
        p = x / n
        centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
        half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
        assert lower == pytest.approx(max(0.0, 100 * (centre - half)), abs=1e-9)
        assert upper == pytest.approx(min(100.0, 100 * (centre + half)), abs=1e-9)


def test_grid_products_are_complete() -> None:
    # Guard for the strategies above: every breakdown maps to its provisions.
    assert set(PROVISIONS) == set(BREAKDOWNS)
    assert {p for ps in PROVISIONS.values() for p in ps} == set("NKE")
    assert list(product("ab", "c")) == [("a", "c"), ("b", "c")]
