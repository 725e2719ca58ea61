"""Statistical disclosure control for the outcome indicators (indicators.md, binding).

Input: the unsuppressed long table `indicators.indicator_values`. Output: the publishable
table (every number formatted as text, or an EES symbol) and the record of why each cell
was suppressed (for auditors, never published).

- Primary: a person-level cell is suppressed when its denominator is below the threshold,
  or its numerator or denominator - numerator is 1 or 2; a weighted rate (sessions,
  targets) when fewer than `threshold` children are behind it.
- Secondary: the published cells obey additive equations (numerators and denominators
  both add up): within the SEN breakdown of one place (All = No SEN + SEN support + EHC;
  All SEN = SEN support + EHC; All = No SEN + All SEN) and across the geography (a local
  authority = the sum of its groups; national = the sum of the local authorities). An
  equation with exactly one suppressed cell gives that cell away by subtraction, so the
  next smallest cell in it (fewest pupils, ties broken by a fixed order) is suppressed too,
  repeatedly, until no equation has exactly one suppressed cell (a fixed point).
- Indicators defined only for pupils with SEN (`sen_only: true` in their header: plan
  review, early identification, plan targets) have no `No SEN provision` population by
  definition. That cell is published as `z` (not applicable), is known to be zero, so it
  counts as published in the equations and is never suppressed; the gap is `z` too.
- Whole cells are suppressed: numerator, denominator, value and interval together, since
  any one of them with the others would give the rest away. Gap and change are `c` when
  a value they derive from is suppressed.

Pure Python on plain records so the property tests can drive it without a database.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

ALL = "All pupils"
ALL_SEN = "All SEN provision"
EHC = "Education, health and care plan"
SUPPORT = "SEN support / SEN without an EHC plan"
NO_SEN = "No SEN provision"
BREAKDOWNS = (ALL, ALL_SEN, EHC, SUPPORT, NO_SEN)
LEVELS = ("national", "local_authority", "partnership_group")

# total = sum of parts, within one place; the third follows from the first two but is
# listed because a reader can use it directly.
BREAKDOWN_EQUATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (ALL, (NO_SEN, SUPPORT, EHC)),
    (ALL_SEN, (SUPPORT, EHC)),
    (ALL, (NO_SEN, ALL_SEN)),
)

SUPPRESSED = "c"
NOT_APPLICABLE = "z"
NOT_AVAILABLE = "x"
SYMBOLS = frozenset({SUPPRESSED, NOT_APPLICABLE, NOT_AVAILABLE})

PRIMARY_THRESHOLD = "primary_threshold"
PRIMARY_NUMERATOR = "primary_numerator"
PRIMARY_COMPLEMENT = "primary_complement"
SECONDARY_BREAKDOWN = "secondary_breakdown"
SECONDARY_GEOGRAPHY = "secondary_geography"

PUBLISHED_COLUMNS = (
    "numerator",
    "denominator",
    "value",
    "ci_lower",
    "ci_upper",
    "gap_pp",
    "change_pp",
)


class CellKey(NamedTuple):
    level: str
    la_code: str | None
    group_id: str | None
    academic_year: str
    sen_breakdown: str
    indicator_id: str


@dataclass(frozen=True)
class Cell:
    """One row of indicators.indicator_values."""

    key: CellKey
    kind: str  # person | weighted
    numerator: float
    denominator: float
    pupils: int
    value: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    gap_pp: float | None = None
    change_pp: float | None = None


@dataclass(frozen=True)
class Suppression:
    key: CellKey
    rule: str
    detail: str


@dataclass(frozen=True)
class Equation:
    rule: str  # secondary_breakdown | secondary_geography
    total: CellKey
    parts: tuple[CellKey, ...]
    label: str

    @property
    def members(self) -> tuple[CellKey, ...]:
        return (self.total, *self.parts)


def previous_year(academic_year: str) -> str:
    """'2025/26' -> '2024/25'."""
    start = int(academic_year[:4]) - 1
    return f"{start}/{(start + 1) % 100:02d}"


def _count(x: float) -> int:
    return round(x)


def primary_reasons(cell: Cell, threshold: int) -> list[tuple[str, str]]:
    """The primary rules a cell breaks (empty if none), with a human-readable detail."""
    reasons: list[tuple[str, str]] = []
    if cell.kind == "person":
        denominator, numerator = _count(cell.denominator), _count(cell.numerator)
        if denominator < threshold:
            reasons.append((PRIMARY_THRESHOLD, f"denominator {denominator} < {threshold}"))
        if numerator in (1, 2):
            reasons.append((PRIMARY_NUMERATOR, f"numerator {numerator}"))
        if denominator - numerator in (1, 2):
            reasons.append(
                (PRIMARY_COMPLEMENT, f"denominator - numerator = {denominator - numerator}")
            )
    elif cell.pupils < threshold:
        reasons.append((PRIMARY_THRESHOLD, f"pupils {cell.pupils} < {threshold}"))
    return reasons


def build_equations(keys: Iterable[CellKey]) -> list[Equation]:
    """Every additive relation among the given cells that a reader could use."""
    present = set(keys)
    equations: list[Equation] = []
    places = sorted(
        {
            (k.level, k.la_code or "", k.group_id or "", k.academic_year, k.indicator_id)
            for k in present
        }
    )
    by_place: dict[tuple[str, str, str, str, str], CellKey] = {}
    for k in present:
        by_place.setdefault(
            (k.level, k.la_code or "", k.group_id or "", k.academic_year, k.indicator_id), k
        )
    for place in places:
        some = by_place[place]
        for total_b, part_bs in BREAKDOWN_EQUATIONS:
            total = some._replace(sen_breakdown=total_b)
            parts = tuple(some._replace(sen_breakdown=b) for b in part_bs)
            if total in present and all(p in present for p in parts):
                equations.append(
                    Equation(
                        SECONDARY_BREAKDOWN,
                        total,
                        parts,
                        f"{total_b} = {' + '.join(part_bs)}",
                    )
                )
    # Geography: per (year, indicator, breakdown), LA = Σ its groups; national = Σ LAs.
    groups_of: dict[tuple[str | None, str, str, str], list[CellKey]] = {}
    las_of: dict[tuple[str, str, str], list[CellKey]] = {}
    for k in present:
        if k.level == "partnership_group":
            groups_of.setdefault(
                (k.la_code, k.academic_year, k.indicator_id, k.sen_breakdown), []
            ).append(k)
        elif k.level == "local_authority":
            las_of.setdefault((k.academic_year, k.indicator_id, k.sen_breakdown), []).append(k)
    for k in sorted(present, key=_order):
        if k.level == "local_authority":
            groups = groups_of.get((k.la_code, k.academic_year, k.indicator_id, k.sen_breakdown))
            if groups:
                equations.append(
                    Equation(
                        SECONDARY_GEOGRAPHY,
                        k,
                        tuple(sorted(groups, key=_order)),
                        f"local authority {k.la_code} = sum of its groups",
                    )
                )
        elif k.level == "national":
            las = las_of.get((k.academic_year, k.indicator_id, k.sen_breakdown))
            if las:
                equations.append(
                    Equation(
                        SECONDARY_GEOGRAPHY,
                        k,
                        tuple(sorted(las, key=_order)),
                        "national = sum of local authorities",
                    )
                )
    return equations


def _order(key: CellKey) -> tuple[str, str, int, str, str, int]:
    """A fixed order of cells, for deterministic tie-breaks and output."""
    return (
        key.indicator_id,
        key.academic_year,
        LEVELS.index(key.level) if key.level in LEVELS else len(LEVELS),
        key.la_code or "",
        key.group_id or "",
        BREAKDOWNS.index(key.sen_breakdown) if key.sen_breakdown in BREAKDOWNS else 99,
    )


def is_structural(key: CellKey, sen_only: Collection[str]) -> bool:
    """A cell that is empty by definition (No SEN pupils of a SEN-only indicator)."""
    return key.sen_breakdown == NO_SEN and key.indicator_id in sen_only


def suppress(
    cells: Sequence[Cell], threshold: int, sen_only: Collection[str] = ()
) -> dict[CellKey, list[Suppression]]:
    """Primary then secondary suppression to a fixed point: the suppressed cells and why."""
    by_key = {c.key: c for c in cells}
    decided: dict[CellKey, list[Suppression]] = {}
    for cell in cells:
        if is_structural(cell.key, sen_only):
            continue
        reasons = primary_reasons(cell, threshold)
        if reasons:
            decided[cell.key] = [Suppression(cell.key, r, d) for r, d in reasons]

    equations = build_equations(by_key)
    membership: dict[CellKey, list[int]] = {}
    for i, eq in enumerate(equations):
        for member in eq.members:
            membership.setdefault(member, []).append(i)

    def rank(key: CellKey) -> tuple[int, float, tuple[str, str, int, str, str, int]]:
        cell = by_key[key]
        return (cell.pupils, cell.denominator, _order(key))

    # Worklist: an equation is re-examined whenever one of its cells is newly suppressed,
    # so when the queue empties no equation has exactly one suppressed cell.
    queue = deque(range(len(equations)))
    queued = set(queue)
    while queue:
        i = queue.popleft()
        queued.discard(i)
        eq = equations[i]
        hidden = [m for m in eq.members if m in decided]
        if len(hidden) != 1:
            continue
        # A structural zero is known to everyone: hiding it would protect nothing.
        open_cells = [m for m in eq.members if m not in decided and not is_structural(m, sen_only)]
        if not open_cells:
            raise AssertionError(f"{eq.label}: nothing left to suppress")
        chosen = min(open_cells, key=rank)
        cell = by_key[chosen]
        decided[chosen] = [
            Suppression(
                chosen,
                eq.rule,
                f"{eq.label}: protects {_describe(hidden[0])}; "
                f"next smallest cell ({cell.pupils} pupils)",
            )
        ]
        for j in membership[chosen]:
            if j not in queued:
                queue.append(j)
                queued.add(j)
    return decided


def _describe(key: CellKey) -> str:
    where = key.group_id or key.la_code or "national"
    return f"{key.sen_breakdown} at {key.level} {where}"


def _fmt(x: float | None, decimals: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return NOT_AVAILABLE
    text = f"{x:.{decimals}f}"
    # "-0.0" would read as a tiny negative change; it is zero at the published precision.
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def publish(
    cells: Sequence[Cell],
    decided: Mapping[CellKey, Sequence[Suppression]],
    sen_only: Collection[str] = (),
) -> list[dict[str, str | None]]:
    """The published rows: formatted numbers or EES symbols, never blank, in fixed order."""
    present = {c.key for c in cells}
    rows: list[dict[str, str | None]] = []
    for cell in sorted(cells, key=lambda c: _order(c.key)):
        key = cell.key
        row: dict[str, str | None] = {
            "level": key.level,
            "la_code": key.la_code,
            "group_id": key.group_id,
            "academic_year": key.academic_year,
            "sen_breakdown": key.sen_breakdown,
            "indicator_id": key.indicator_id,
            "kind": cell.kind,
        }
        if is_structural(key, sen_only):
            row.update({c: NOT_APPLICABLE for c in PUBLISHED_COLUMNS})
            rows.append(row)
            continue
        hidden = key in decided
        if hidden:
            row.update(numerator=SUPPRESSED, denominator=SUPPRESSED, value=SUPPRESSED)
        else:
            row.update(
                numerator=_fmt(cell.numerator, 0),
                denominator=_fmt(cell.denominator, 0),
                value=_fmt(cell.value, 1),
            )
        if cell.kind != "person":
            row.update(ci_lower=NOT_APPLICABLE, ci_upper=NOT_APPLICABLE)
        elif hidden:
            row.update(ci_lower=SUPPRESSED, ci_upper=SUPPRESSED)
        else:
            row.update(ci_lower=_fmt(cell.ci_lower, 1), ci_upper=_fmt(cell.ci_upper, 1))

        no_sen = key._replace(sen_breakdown=NO_SEN)
        if key.sen_breakdown == NO_SEN or key.indicator_id in sen_only:
            row["gap_pp"] = NOT_APPLICABLE
        elif hidden or no_sen in decided:
            row["gap_pp"] = SUPPRESSED
        elif no_sen not in present:
            row["gap_pp"] = NOT_AVAILABLE
        else:
            row["gap_pp"] = _fmt(cell.gap_pp, 1)

        before = key._replace(academic_year=previous_year(key.academic_year))
        if before not in present:
            row["change_pp"] = NOT_AVAILABLE
        elif hidden or before in decided:
            row["change_pp"] = SUPPRESSED
        else:
            row["change_pp"] = _fmt(cell.change_pp, 1)
        rows.append(row)
    return rows


def suppression_rows(
    decided: Mapping[CellKey, Sequence[Suppression]],
) -> list[dict[str, str | None]]:
    """The audit record: one row per rule that suppressed a cell."""
    rows: list[dict[str, str | None]] = []
    for key in sorted(decided, key=_order):
        for s in decided[key]:
            rows.append(
                {
                    "level": key.level,
                    "la_code": key.la_code,
                    "group_id": key.group_id,
                    "academic_year": key.academic_year,
                    "sen_breakdown": key.sen_breakdown,
                    "indicator_id": key.indicator_id,
                    "rule": s.rule,
                    "detail": s.detail,
                }
            )
    return rows
