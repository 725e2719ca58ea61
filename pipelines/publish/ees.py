"""EES tidy tables built from the warehouse's published indicator tables.

Explore Education Statistics (EES) open data standards: one row per time period x
geography x filter combination, indicators as columns, mandatory time and geography
columns, every filter with a default ("Total" unless `filter_default` says otherwise),
symbols instead of blanks. Every cell is text here so that numbers keep exactly the
rounding disclosure control gave them and symbols sit beside numbers in one column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from pipelines.catalog import IndicatorMeta
from pipelines.publish.safety import clean_label, neutralise_columns

TIME_IDENTIFIER = "Academic year"
COUNTRY_CODE = "E92000001"
COUNTRY_NAME = "England"
NATIONAL = "National"
LOCAL_AUTHORITY = "Local authority"
TOTAL = "Total"

SEN_ORDER = (
    "All pupils",
    "All SEN provision",
    "Education, health and care plan",
    "SEN support / SEN without an EHC plan",
    "No SEN provision",
)
SEN_TOTAL = "All pupils"
NO_SEN = "No SEN provision"
SYMBOLS = ("c", "z", "x", "low")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")

# Indicators whose denominator is K/E pupils only: for `No SEN provision` they are not
# applicable (z) rather than not available (x) when the warehouse has no cell.
SEN_ONLY = frozenset(
    {"plan_reviewed_percent", "early_identified_percent", "plan_targets_met_percent"}
)

GEOGRAPHY_COLUMNS = (
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "new_la_code",
    "old_la_code",
    "la_name",
)
LEVEL_ORDER = {NATIONAL: 0, LOCAL_AUTHORITY: 1}
GROUP_KEY = "_group_id"  # internal: which group a row belongs to; never written out

# Text columns that can carry input-derived text (register and group names): the only
# columns that get formula-injection neutralisation. Indicator columns never do.
TEXT_COLUMNS = ("la_name", "partnership_group")

SOURCE_LABELS = {
    "outcomes": "Pupil outcomes",
    "voice": "Pupil and family surveys",
    "spend": "Spending returns",
    "allocations": "Allocations",
}
COVERAGE_DEFAULT_SOURCE = "Pupil outcomes"

# Plain-language text for the context indicators, used when the catalogue has none
# (spend and coverage are not `ind_*` person/weighted models).
CONTEXT_TEXT: dict[str, tuple[str, str, str]] = {
    "spend_per_pupil_gbp": (
        "Spend per pupil",
        "the Inclusive Mainstream Fund money the group's schools reported spending, "
        "divided by the number of pupils on their rolls",
        "it shows how much money was behind the work; it says nothing on its own about "
        "what changed for children",
    ),
    "systemic_spend_percent": (
        "Spend on whole-school inclusion",
        "the share of spending that went on things that change the school for every "
        "child, such as staff training, inclusion bases and adapted teaching",
        "the fund is meant to make mainstream schools more inclusive, not only to buy "
        "support for individual children",
    ),
    "individual_spend_percent": (
        "Spend on support for individual children",
        "the share of spending that went on support for named children",
        "it shows the balance between whole-school change and individual support",
    ),
    "allocation_spent_percent": (
        "Share of the allocation spent",
        "how much of the money allocated to the group's schools has been spent so far",
        "money not yet spent has not yet reached children",
    ),
}


class PublishInputError(ValueError):
    """The warehouse tables do not meet the published-values contract."""


@dataclass(frozen=True)
class MetaRow:
    col_name: str
    col_type: str  # Filter | Indicator
    label: str
    indicator_grouping: str = ""
    indicator_unit: str = ""
    indicator_dp: str = ""
    filter_hint: str = ""
    filter_grouping_column: str = ""
    filter_default: str = ""


@dataclass
class EesTable:
    """One EES data file (all-text polars frame) and its metadata rows."""

    name: str
    title: str
    data: pl.DataFrame
    meta: list[MetaRow] = field(default_factory=list)

    def meta_frame(self) -> pl.DataFrame:
        return pl.DataFrame([asdict(m) for m in self.meta], schema=list(MetaRow.__annotations__))

    def public_frame(self) -> pl.DataFrame:
        """The data as written: internal columns dropped, input text neutralised."""
        frame = self.data.drop([c for c in self.data.columns if c.startswith("_")])
        return neutralise_columns(frame, list(TEXT_COLUMNS))

    def for_group(self, group_id: str) -> EesTable:
        """Only that group's rows (its folder must hold no other group's data)."""
        return EesTable(
            name=f"{self.name}_{group_id}",
            title=self.title,
            data=self.data.filter(pl.col(GROUP_KEY) == group_id),
            meta=self.meta,
        )

    def write(self, folder: Path) -> list[Path]:
        """CSV + .meta.csv + Parquet into `folder`; returns the paths written."""
        folder.mkdir(parents=True, exist_ok=True)
        data = self.public_frame()
        csv_path = folder / f"{self.name}.csv"
        meta_path = folder / f"{self.name}.meta.csv"
        parquet_path = folder / f"{self.name}.parquet"
        data.write_csv(csv_path)
        self.meta_frame().write_csv(meta_path)
        data.write_parquet(parquet_path)
        return [csv_path, meta_path, parquet_path]


@dataclass(frozen=True)
class Place:
    """Where a row sits: the EES geography columns and the partnership_group filter."""

    geographic_level: str
    new_la_code: str
    old_la_code: str
    la_name: str
    partnership_group: str
    group_id: str  # "" above group level

    def columns(self) -> dict[str, str]:
        return {
            "geographic_level": self.geographic_level,
            "country_code": COUNTRY_CODE,
            "country_name": COUNTRY_NAME,
            "new_la_code": self.new_la_code,
            "old_la_code": self.old_la_code,
            "la_name": self.la_name,
            "partnership_group": self.partnership_group,
            GROUP_KEY: self.group_id,
        }


@dataclass(frozen=True)
class Geography:
    """Names and codes for every LA and group, from ref.schools / ref.partnership_groups."""

    las: dict[str, tuple[str, str]]  # old la_code -> (new_la_code, la_name)
    groups: dict[str, tuple[str, str, str]]  # group_id -> (label, la_code, raw group_name)

    @classmethod
    def load(cls, conn: duckdb.DuckDBPyConnection) -> Geography:
        las = {
            str(code): (str(new), clean_label(str(name)))
            for code, new, name in conn.execute(
                "SELECT la_code, min(new_la_code), min(la_name) FROM ref.schools "
                "WHERE la_code IS NOT NULL GROUP BY la_code"
            ).fetchall()
        }
        raw = conn.execute(
            "SELECT group_id, group_name, la_code FROM ref.partnership_groups ORDER BY group_id"
        ).fetchall()
        labels: dict[str, str] = {}
        seen: dict[tuple[str, str], int] = {}
        for gid, name, la in raw:
            label = clean_label(str(name or gid))
            seen[(str(la), label)] = seen.get((str(la), label), 0) + 1
            labels[str(gid)] = label
        groups = {}
        for gid, name, la in raw:
            label = labels[str(gid)]
            # Two groups with one name in one LA would collide as filter items.
            if seen[(str(la), label)] > 1:
                label = f"{label} ({gid})"
            groups[str(gid)] = (label, str(la), str(name or gid))
        return cls(las=las, groups=groups)

    def place(self, level: str, la_code: str | None, group_id: str | None) -> Place:
        if level == "national":
            return Place(NATIONAL, "", "", "", TOTAL, "")
        if level == "local_authority":
            new, name = self._la(la_code)
            return Place(LOCAL_AUTHORITY, new, str(la_code), name, TOTAL, "")
        if level == "partnership_group":
            if group_id is None or group_id not in self.groups:
                raise PublishInputError(f"group {group_id!r} is not in ref.partnership_groups")
            label, group_la, _ = self.groups[group_id]
            new, name = self._la(la_code or group_la)
            return Place(LOCAL_AUTHORITY, new, str(la_code or group_la), name, label, group_id)
        raise PublishInputError(f"unknown level {level!r}")

    def _la(self, la_code: str | None) -> tuple[str, str]:
        if la_code is None or str(la_code) not in self.las:
            raise PublishInputError(f"local authority {la_code!r} is not in ref.schools")
        return self.las[str(la_code)]


def time_period(academic_year: str) -> str:
    """'2025/26' -> '202526' (EES six-digit academic year)."""
    match = re.fullmatch(r"(\d{4})/(\d{2})", academic_year or "")
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise PublishInputError(f"not an academic year: {academic_year!r}")
    return match.group(1) + match.group(2)


def academic_year(period: str) -> str:
    return f"{period[:4]}/{period[4:]}"


def cell_problem(value: object) -> str | None:
    """Why this cannot be published (None: it can). A published cell must be a number or
    an EES symbol: never blank, never NULL."""
    if value is None or not isinstance(value, str) or not value.strip():
        return "blank or NULL cell"
    if value not in SYMBOLS and not NUMBER.match(value):
        return f"cell {value!r} is neither a number nor a symbol"
    return None


def _fmt(value: float | None, dp: int) -> str:
    if value is None:
        return "x"
    text = f"{value:.{dp}f}"
    return "0" if dp == 0 and text == "-0" else text


def stem(indicator_id: str) -> str:
    return indicator_id.removesuffix("_percent")


MEASURES = ("numerator", "denominator", "value", "ci_lower", "ci_upper", "gap_pp", "change_pp")


def column_name(indicator_id: str, measure: str) -> str:
    """The EES column for one measure of one indicator (snake_case, at most 50 chars)."""
    return {
        "numerator": f"{stem(indicator_id)}_numerator",
        "denominator": f"{stem(indicator_id)}_denominator",
        "value": indicator_id,
        "ci_lower": f"{indicator_id}_ci_lower",
        "ci_upper": f"{indicator_id}_ci_upper",
        "gap_pp": f"{stem(indicator_id)}_gap_pp",
        "change_pp": f"{stem(indicator_id)}_change_pp",
    }[measure]


def measures_for(kind: str) -> tuple[str, ...]:
    # Weighted rates have no Wilson interval: their CI columns would be all `z`.
    if kind == "weighted":
        return tuple(m for m in MEASURES if not m.startswith("ci_"))
    return MEASURES


@cache
def measure_columns(indicator_id: str, kind: str) -> tuple[tuple[int, str, str], ...]:
    """(position in MEASURES, measure, EES column) of each measure an indicator of this
    kind publishes: worked out once per indicator, not for every value and cell (a
    national year's outcome table asked for a column name a million times)."""
    return tuple((MEASURES.index(m), m, column_name(indicator_id, m))
                 for m in measures_for(kind))


def _indicator_meta(indicator_id: str, kind: str, title: str) -> list[MetaRow]:
    labels = {
        "numerator": (f"{title}: numerator", "", "0"),
        "denominator": (f"{title}: denominator", "", "0"),
        "value": (f"{title} (%)", "%", "1"),
        "ci_lower": (f"{title}: 95% interval, lower (%)", "%", "1"),
        "ci_upper": (f"{title}: 95% interval, upper (%)", "%", "1"),
        "gap_pp": (f"{title}: gap to No SEN provision (pp)", "pp", "1"),
        "change_pp": (f"{title}: change on previous year (pp)", "pp", "1"),
    }
    return [
        MetaRow(
            col_name=column_name(indicator_id, m),
            col_type="Indicator",
            label=labels[m][0],
            indicator_grouping=title,
            indicator_unit=labels[m][1],
            indicator_dp=labels[m][2],
        )
        for m in measures_for(kind)
    ]


PARTNERSHIP_FILTER = MetaRow(
    col_name="partnership_group",
    col_type="Filter",
    label="Partnership group",
    filter_hint="Schools in a local authority working together on inclusion",
    filter_default=TOTAL,
)
SEN_FILTER = MetaRow(
    col_name="sen_provision",
    col_type="Filter",
    label="SEN provision",
    filter_hint="Special educational needs provision recorded for the pupil",
    filter_default=SEN_TOTAL,
)


def titles(catalog: Sequence[IndicatorMeta]) -> dict[str, str]:
    return {m.id: clean_label(m.title) for m in catalog}


def _sort(frame: pl.DataFrame, extra: Iterable[str]) -> pl.DataFrame:
    if frame.is_empty():
        return frame
    return (
        frame.with_columns(
            pl.col("geographic_level").replace_strict(LEVEL_ORDER, default=9).alias("_lvl"),
            (pl.col("partnership_group") != TOTAL).alias("_not_total"),
        )
        .sort(["time_period", "_lvl", "new_la_code", "_not_total", "partnership_group", *extra])
        .drop(["_lvl", "_not_total"])
    )


def outcome_table(
    conn: duckdb.DuckDBPyConnection, geo: Geography, catalog: Sequence[IndicatorMeta]
) -> EesTable:
    """`indicators.published_values` as one wide EES table (indicators as columns)."""
    rows = conn.execute(
        "SELECT level, la_code, group_id, academic_year, sen_breakdown, indicator_id, kind, "
        "numerator, denominator, value, ci_lower, ci_upper, gap_pp, change_pp "
        "FROM indicators.published_values"
    ).fetchall()
    order = [m.id for m in catalog]
    kinds: dict[str, str] = {}
    cells: dict[tuple[str, str, str, str, str], dict[str, str]] = {}
    places: dict[tuple[str, str, str], Place] = {}
    for level, la, gid, year, sen, ind, kind, *values in rows:
        if sen not in SEN_ORDER:
            raise PublishInputError(f"unknown sen_breakdown {sen!r} for {ind}")
        kinds[ind] = kind
        pkey = (str(level), str(la) if la is not None else "", str(gid) if gid else "")
        if pkey not in places:
            places[pkey] = geo.place(level, la, gid)
        key = (*pkey, time_period(year), sen)
        row = cells.setdefault(key, {})
        for position, measure, column in measure_columns(ind, kind):
            value = values[position]
            problem = cell_problem(value)
            if problem:  # where it is, spelled out only for a bad cell
                raise PublishInputError(f"{problem} in published_values "
                                        f"{level}/{la}/{gid}/{year}/{sen}/{ind}/{measure}")
            row[column] = value
    indicators = [i for i in order if i in kinds] + sorted(set(kinds) - set(order))
    names = titles(catalog)
    meta = [PARTNERSHIP_FILTER, SEN_FILTER]
    for ind in indicators:
        meta += _indicator_meta(ind, kinds[ind], names.get(ind, ind.replace("_", " ").capitalize()))
    indicator_cols = [m.col_name for m in meta if m.col_type == "Indicator"]
    records = []
    for (level, la, gid, period, sen), row in cells.items():
        record = {"time_period": period, "time_identifier": TIME_IDENTIFIER}
        record |= places[(level, la, gid)].columns()
        record["sen_provision"] = sen
        for ind in indicators:
            for _, measure, col in measure_columns(ind, kinds[ind]):
                if col not in row:
                    not_applicable = sen == NO_SEN and (ind in SEN_ONLY or measure == "gap_pp")
                    row[col] = "z" if not_applicable else "x"
        record |= {c: row[c] for c in indicator_cols}
        records.append(record)
    columns = [*GEOGRAPHY_COLUMNS, "partnership_group", "sen_provision", *indicator_cols, GROUP_KEY]
    frame = pl.DataFrame(records, schema=dict.fromkeys(columns, pl.String))
    frame = frame.with_columns(
        pl.col("sen_provision").replace_strict({s: i for i, s in enumerate(SEN_ORDER)}).alias("_s")
    )
    frame = _sort(frame, ["_s"]).drop("_s")
    return EesTable("imf_outcome_indicators", "Outcomes for children", frame, meta)


SPEND_UNITS = {"spend_per_pupil_gbp": ("£", 0)}


def spend_table(
    conn: duckdb.DuckDBPyConnection, geo: Geography, catalog: Sequence[IndicatorMeta]
) -> EesTable:
    """`indicators.spend_context`: context only, never ranked, never suppressed."""
    rows = conn.execute(
        "SELECT level, la_code, group_id, academic_year, indicator_id, value "
        "FROM indicators.spend_context"
    ).fetchall()
    known = list(CONTEXT_TEXT)
    present = {r[4] for r in rows}
    indicators = [i for i in known if i in present] + sorted(present - set(known))
    names = titles(catalog)
    meta = [PARTNERSHIP_FILTER]
    for ind in indicators:
        unit, dp = SPEND_UNITS.get(ind, ("£", 0) if ind.endswith("_gbp") else ("%", 1))
        title = names.get(ind) or CONTEXT_TEXT.get(ind, (ind,))[0]
        meta.append(MetaRow(ind, "Indicator", title, "Spend (context)", unit, str(dp)))
    dps = {m.col_name: int(m.indicator_dp) for m in meta if m.col_type == "Indicator"}
    records: dict[tuple[str, str, str, str], dict[str, str]] = {}
    for level, la, gid, year, ind, value in rows:
        place = geo.place(level, la, gid)
        key = (str(level), str(la or ""), str(gid or ""), time_period(year))
        rec = records.setdefault(
            key,
            {"time_period": key[3], "time_identifier": TIME_IDENTIFIER}
            | place.columns()
            | dict.fromkeys(indicators, "x"),
        )
        rec[ind] = _fmt(None if value is None else float(value), dps[ind])
    columns = [*GEOGRAPHY_COLUMNS, "partnership_group", *indicators, GROUP_KEY]
    frame = pl.DataFrame(list(records.values()), schema=dict.fromkeys(columns, pl.String))
    return EesTable("imf_spend_context", "Spend (context)", _sort(frame, []), meta)


def coverage_table(conn: duckdb.DuckDBPyConnection, geo: Geography) -> EesTable:
    """`indicators.coverage`: how many schools sent each kind of data."""
    rows = conn.execute(
        "SELECT level, la_code, group_id, academic_year, source, schools_in_group, "
        "schools_reporting, value FROM indicators.coverage"
    ).fetchall()
    meta = [
        PARTNERSHIP_FILTER,
        MetaRow(
            "data_source",
            "Filter",
            "Data source",
            filter_hint="The kind of data schools send",
            filter_default=COVERAGE_DEFAULT_SOURCE,
        ),
        MetaRow("schools_in_group", "Indicator", "Schools", "Coverage", "", "0"),
        MetaRow("schools_reporting", "Indicator", "Schools that sent data", "Coverage", "", "0"),
        MetaRow(
            "schools_reporting_percent", "Indicator", "Schools that sent data (%)", "Coverage",
            "%", "1",
        ),
    ]
    records = []
    for level, la, gid, year, source, in_group, reporting, value in rows:
        records.append(
            {"time_period": time_period(year), "time_identifier": TIME_IDENTIFIER}
            | geo.place(level, la, gid).columns()
            | {
                "data_source": SOURCE_LABELS.get(str(source), clean_label(str(source))),
                "schools_in_group": _fmt(None if in_group is None else float(in_group), 0),
                "schools_reporting": _fmt(None if reporting is None else float(reporting), 0),
                "schools_reporting_percent": (
                    "z" if not in_group else _fmt(None if value is None else float(value), 1)
                ),
            }
        )
    columns = [
        *GEOGRAPHY_COLUMNS, "partnership_group", "data_source", "schools_in_group",
        "schools_reporting", "schools_reporting_percent", GROUP_KEY,
    ]
    frame = pl.DataFrame(records, schema=dict.fromkeys(columns, pl.String))
    return EesTable("imf_data_coverage", "Data coverage", _sort(frame, ["data_source"]), meta)
