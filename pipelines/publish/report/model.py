"""What a group's report shows, taken from the very tables that are published.

The report reads the EES frames (already formatted and suppressed), never the
unsuppressed warehouse values, so a number can only appear on the page if it is in the
published tables too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl
from markupsafe import Markup

from pipelines.catalog import IndicatorMeta
from pipelines.publish.ees import (
    CONTEXT_TEXT,
    GROUP_KEY,
    NO_SEN,
    NUMBER,
    SEN_ORDER,
    EesTable,
    academic_year,
)
from pipelines.publish.report.charts import Point, gap_chart, trend_chart

TREND_SERIES = (
    "All SEN provision",
    "Education, health and care plan",
    "SEN support / SEN without an EHC plan",
    "No SEN provision",
)
SEN_PLAIN = {
    "All pupils": "All pupils",
    "All SEN provision": "All children with SEN",
    "Education, health and care plan": "Children with an EHC plan",
    "SEN support / SEN without an EHC plan": "Children on SEN support",
    "No SEN provision": "Children without SEN",
}


def number(cell: str) -> float | None:
    return float(cell) if NUMBER.match(cell) else None


def words(cell: str, unit: str = "%") -> str:
    """A cell as a reader sees it: a number with its unit, or a symbol in words."""
    if NUMBER.match(cell):
        if unit == "£":
            return f"£{float(cell):,.0f}"
        if unit == "pp":
            return f"{float(cell):+.1f}"
        return f"{cell}{unit}"
    return {"c": "hidden*", "z": "does not apply", "x": "not available", "low": "below 0.5"}.get(
        cell, cell
    )


@dataclass
class Row:
    year: str
    sen: str
    value: str
    interval: str
    gap: str
    change: str
    children: str
    hidden: bool


@dataclass
class IndicatorView:
    id: str
    title: str
    measures: str
    why: str
    read: str
    kind: str
    gap_svg: Markup
    trend_svg: Markup
    gap_caption: str
    trend_caption: str
    rows: list[Row]
    hidden_cells: int


@dataclass
class Card:
    id: str
    title: str
    value: str
    who: str
    change: str
    direction: str  # up | down | same | none
    comparison: str


@dataclass
class CoverageRow:
    year: str
    source: str
    reporting: str
    in_group: str
    percent: str


@dataclass
class GroupView:
    group_id: str
    name: str
    la_name: str
    latest: str
    previous: str | None
    years: list[str]
    threshold: int
    cards: list[Card]
    indicators: list[IndicatorView]
    spend_columns: list[tuple[str, str, str, str]]  # (col, title, measures, why)
    spend_rows: list[tuple[str, list[str]]]
    coverage: list[CoverageRow]
    missing_schools: dict[str, list[str]] | None  # source label -> school names
    downloads: list[tuple[str, str]] = field(default_factory=list)
    hidden_cells: int = 0


def _catalog_text(catalog: Sequence[IndicatorMeta], ind: str) -> tuple[str, str, str]:
    for meta in catalog:
        if meta.id == ind:
            return meta.measures, meta.why, meta.read
    return "", "", ""


def _indicators(table: EesTable) -> list[tuple[str, str, bool]]:
    """(indicator id, title, has interval) in metadata order."""
    out = []
    cols = {m.col_name for m in table.meta}
    for m in table.meta:
        if m.col_type == "Indicator" and m.indicator_unit == "%" and not m.col_name.endswith(
            ("_ci_lower", "_ci_upper")
        ):
            out.append((m.col_name, m.indicator_grouping, f"{m.col_name}_ci_lower" in cols))
    return out


def _stem(ind: str) -> str:
    return ind.removesuffix("_percent")


def build_group_view(
    group_id: str,
    name: str,
    la_name: str,
    outcomes: EesTable,
    spend: EesTable,
    coverage: EesTable,
    catalog: Sequence[IndicatorMeta],
    missing_schools: dict[str, list[str]] | None,
    threshold: int,
) -> GroupView:
    data = outcomes.data.filter(pl.col(GROUP_KEY) == group_id)
    periods = sorted(data["time_period"].unique().to_list())
    years = [academic_year(p) for p in periods]
    latest_p = periods[-1] if periods else ""
    latest = academic_year(latest_p) if latest_p else ""
    previous = years[-2] if len(years) > 1 else None
    cell = {(r["time_period"], r["sen_provision"]): r for r in data.iter_rows(named=True)}
    hidden_note = "hidden to protect privacy"

    views: list[IndicatorView] = []
    cards: list[tuple[float, int, Card]] = []
    for order, (ind, title, has_ci) in enumerate(_indicators(outcomes)):
        measures, why, read = _catalog_text(catalog, ind)
        if ind in CONTEXT_TEXT:
            continue

        def point(period: str, sen: str, ind: str = ind, has_ci: bool = has_ci) -> Point:
            row = cell.get((period, sen))
            if row is None:
                return Point(None, note="not available")
            value = number(row[ind])
            if value is None:
                note = hidden_note if row[ind] == "c" else words(row[ind])
                return Point(None, note=note)
            if has_ci:
                return Point(value, number(row[f"{ind}_ci_lower"]), number(row[f"{ind}_ci_upper"]))
            return Point(value)

        gap_rows = [(sen, point(latest_p, sen)) for sen in SEN_ORDER]
        summary = "; ".join(
            f"{SEN_PLAIN[s]}: {p.value}%" if p.value is not None else f"{SEN_PLAIN[s]}: {p.note}"
            for s, p in gap_rows
        )
        interval = " with 95% intervals" if has_ci else ""
        gap_svg = gap_chart(
            f"gap-{ind}",
            f"{title} by SEN provision, {latest}",
            f"Dot chart{interval}. {summary}.",
            gap_rows,
        )
        series = [(sen, [point(p, sen) for p in periods]) for sen in TREND_SERIES]
        trend_desc = "; ".join(
            f"{SEN_PLAIN[s]}: "
            + ", ".join(
                f"{y} {p.value}%" if p.value is not None else f"{y} {p.note}"
                for y, p in zip(years, pts, strict=True)
            )
            for s, pts in series
        )
        trend_svg = trend_chart(
            f"trend-{ind}", f"{title} over time by SEN provision", f"Line chart. {trend_desc}.",
            years, series,
        )
        rows: list[Row] = []
        hidden = 0
        for p in reversed(periods):
            for sen in SEN_ORDER:
                r = cell.get((p, sen))
                if r is None:
                    continue
                lo, hi = (r.get(f"{ind}_ci_lower", "z"), r.get(f"{ind}_ci_upper", "z"))
                interval_text = (
                    f"{lo}% to {hi}%" if number(lo) is not None and number(hi) is not None
                    else words(lo)
                )
                is_hidden = r[ind] == "c"
                hidden += sum(
                    1 for c in (ind, f"{_stem(ind)}_numerator", f"{_stem(ind)}_gap_pp")
                    if r.get(c) == "c"
                )
                rows.append(Row(
                    year=academic_year(p), sen=sen, value=words(r[ind]),
                    interval=interval_text if has_ci else "does not apply",
                    gap=words(r[f"{_stem(ind)}_gap_pp"], "pp"),
                    change=words(r[f"{_stem(ind)}_change_pp"], "pp"),
                    children=words(r[f"{_stem(ind)}_denominator"], ""),
                    hidden=is_hidden,
                ))
        views.append(IndicatorView(
            id=ind, title=title, measures=measures, why=why, read=read,
            kind="person" if has_ci else "weighted", gap_svg=gap_svg, trend_svg=trend_svg,
            gap_caption=(
                f"{title}, {latest}: each dot is a group of children"
                + (", the line across it the range the true figure is likely to be in (95%)."
                   if has_ci else ".")
                + " The dashed line marks children without SEN, so the distance to it is the gap."
            ),
            trend_caption=f"{title} in each year, for children with and without SEN.",
            rows=rows, hidden_cells=hidden,
        ))
        sen_row = cell.get((latest_p, "All SEN provision"))
        nosen_row = cell.get((latest_p, NO_SEN))
        if sen_row is not None:
            value = number(sen_row[ind])
            change = number(sen_row[f"{_stem(ind)}_change_pp"])
            if value is None:
                continue
            if change is None:
                direction, change_text = "none", "No earlier year to compare with"
            elif change > 0:
                direction, change_text = "up", f"Up {change:.1f} points since {previous}"
            elif change < 0:
                direction, change_text = "down", f"Down {-change:.1f} points since {previous}"
            else:
                direction, change_text = "same", f"No change since {previous}"
            nosen = words(nosen_row[ind]) if nosen_row else "z"
            comparison = (f"Children without SEN: {nosen}"
                          if nosen not in ("z", "does not apply") else "")
            cards.append((
                abs(change) if change is not None else -1.0,
                order,
                Card(ind, title, f"{sen_row[ind]}%", f"of children with SEN, {latest}",
                     change_text, direction, comparison),
            ))
    # The biggest movements first: what changed for children this year.
    chosen = [c for _, _, c in sorted(cards, key=lambda t: (-t[0], t[1]))[:6]]

    spend_data = spend.data.filter(pl.col(GROUP_KEY) == group_id)
    spend_cols = []
    units = {m.col_name: m.indicator_unit for m in spend.meta}
    for m in spend.meta:
        if m.col_type == "Indicator":
            text = CONTEXT_TEXT.get(m.col_name, (m.label, "", ""))
            measures, why, _ = _catalog_text(catalog, m.col_name)
            spend_cols.append((m.col_name, m.label, measures or text[1], why or text[2]))
    spend_rows = [
        (academic_year(r["time_period"]),
         [words(r[c], units.get(c, "")) for c, *_ in spend_cols])
        for r in spend_data.sort("time_period", descending=True).iter_rows(named=True)
    ]
    cov = coverage.data.filter(pl.col(GROUP_KEY) == group_id).sort(
        ["time_period", "data_source"], descending=[True, False]
    )
    coverage_rows = [
        CoverageRow(academic_year(r["time_period"]), r["data_source"],
                    words(r["schools_reporting"], ""), words(r["schools_in_group"], ""),
                    words(r["schools_reporting_percent"]))
        for r in cov.iter_rows(named=True)
    ]
    return GroupView(
        group_id=group_id, name=name, la_name=la_name, latest=latest, previous=previous,
        years=years, threshold=threshold, cards=chosen, indicators=views,
        spend_columns=spend_cols, spend_rows=spend_rows, coverage=coverage_rows,
        missing_schools=missing_schools, hidden_cells=sum(v.hidden_cells for v in views),
    )
