"""The EES data screener's rules, as code, so files fail here before DfE's screener.

Follows the checks of DfE's screener (dfe-analytical-services/eesyscreener): file
names, required columns, metadata/data cross-checks, column naming, symbols, time
period and identifier, geography, filters, duplicates and character limits. Written
from its documented rules, not translated from its code. Every rule here is an error
(the screener treats a few as warnings; our design doc makes them binding).

`screen_folder(path)` returns findings; an empty list means the folder would pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

REQUIRED_DATA = ("time_period", "time_identifier", "geographic_level", "country_code",
                 "country_name")
REQUIRED_META = ("col_name", "col_type", "label", "indicator_grouping", "indicator_unit",
                 "indicator_dp", "filter_hint", "filter_grouping_column")
OPTIONAL_META = ("filter_default",)
# Columns each geographic level needs (code, name, secondary code), from the EES list.
LEVEL_COLUMNS: dict[str, tuple[str, ...]] = {
    "National": ("country_code", "country_name"),
    "Regional": ("region_code", "region_name"),
    "Local authority": ("new_la_code", "old_la_code", "la_name"),
    "Local authority district": ("lad_code", "lad_name"),
    "Parliamentary constituency": ("pcon_code", "pcon_name"),
    "Ward": ("ward_code", "ward_name"),
    "School": ("school_urn", "school_name"),
}
GEOGRAPHY_COLS = frozenset(c for cols in LEVEL_COLUMNS.values() for c in cols)
TIME_IDENTIFIERS_SIX = frozenset({
    "Academic year", "Financial year", "Tax year", "Autumn term", "Spring term",
    "Summer term", "Autumn and spring term",
})
TIME_IDENTIFIERS_FOUR = frozenset({"Calendar year", "Reporting year"})
SYMBOLS = frozenset({"c", "z", "x", "low"})
LEGACY_SYMBOLS = frozenset({"~", ":", "N/A", "n/a", ".", "..", "-"})
NULL_SYMBOLS = frozenset({"NULL", "Null", "null", "NA", "na", "NaN", "nan"})
UNITS = frozenset({"", "%", "pp", "£", "£m", "numberstring"})
NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
NEW_LA_CODE = re.compile(r"^E(06|07|08|09|10)\d{6}$")
OLD_LA_CODE = re.compile(r"^\d{3}$")
COUNTRIES = {"E92000001": "England", "K02000001": "United Kingdom", "K03000001":
             "Great Britain", "K04000001": "England and Wales", "W92000004": "Wales",
             "S92000003": "Scotland", "N92000002": "Northern Ireland"}
LIMIT_COL_NAME, LIMIT_LABEL, LIMIT_ITEM, LIMIT_LOCATION_CODE = 50, 100, 120, 30
FILTER_ITEM_LIMIT = 25000

RULES: dict[str, str] = {
    "filename_spaces": "file names have no spaces",
    "filename_special": "file names use only letters, digits, hyphens and underscores",
    "filename_pair": "every data file has a matching .meta.csv and vice versa",
    "encoding": "files are UTF-8 without a byte-order mark",
    "data_required_columns": "the data file has the mandatory time and geography columns",
    "meta_required_columns": "the metadata file has all required columns",
    "col_duplicate": "no column name appears twice",
    "col_name_spaces": "column names have no spaces",
    "col_snake_case": "column names are snake_case",
    "col_name_length": f"column names are at most {LIMIT_COL_NAME} characters",
    "meta_invalid_col_name": "time and geography columns are not listed in the metadata",
    "meta_to_data": "every metadata col_name is a column of the data file",
    "data_to_meta": "every data column is mandatory, geography or listed in the metadata",
    "meta_col_type": "col_type is Filter or Indicator",
    "meta_label": "every column has a label, unique, at most 100 characters",
    "meta_indicator_fields": "indicator_grouping, indicator_unit, indicator_dp only on indicators",
    "meta_filter_fields": "filter_hint and filter_grouping_column only on filters",
    "meta_indicator_unit": "indicator_unit is one of %, pp, £, £m, numberstring or blank",
    "meta_indicator_dp": "indicator_dp is set on every indicator to a non-negative integer",
    "meta_filter_group": "filter_grouping_column names a data column that is not a filter",
    "meta_whitespace": "metadata cells have no leading or trailing whitespace",
    "null_symbols": "no NULL/NA text and no legacy symbols anywhere",
    "time_period": "time_period has 4 digits, or 6 consecutive-year digits, per identifier",
    "time_identifier": "time_identifier is one accepted value",
    "geographic_level": "geographic_level is an accepted level",
    "geography_columns": "each level's columns are present and filled on its rows",
    "geography_overcompleted": "lower-level geography columns are blank on higher-level rows",
    "geography_codes": "country and LA codes are well formed and match their names",
    "filter_blanks": "no blank filter items",
    "filter_whitespace": "filter items have no leading or trailing whitespace",
    "filter_not_singular": "every filter has at least two items",
    "filter_default": "every filter has its Total (or filter_default) item",
    "filter_item_length": f"filter items and location names are at most {LIMIT_ITEM} characters",
    "indicator_values": "indicator cells are numbers or c, z, x, low: never blank",
    "duplicates": "no two rows share time, geography and filter items",
}


@dataclass(frozen=True)
class Finding:
    rule: str
    file: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"[{self.rule}] {self.file}: {self.message}"


def _read(path: Path) -> pl.DataFrame:
    # All text: EES values are numbers, symbols and names in one column.
    return pl.read_csv(path, infer_schema=False, empty_string_is_null=False)


def _header(path: Path) -> list[str]:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    return [c.strip('"') for c in first.split(",")]


def screen_folder(folder: Path, allow_singular: Iterable[str] = ()) -> list[Finding]:
    """Screen every data/meta pair in a folder (non-CSV files are ignored)."""
    findings: list[Finding] = []
    csvs = sorted(p for p in folder.glob("*.csv"))
    metas = {p.name.removesuffix(".meta.csv"): p for p in csvs if p.name.endswith(".meta.csv")}
    datas = {p.name.removesuffix(".csv"): p for p in csvs if not p.name.endswith(".meta.csv")}
    if not datas:
        findings.append(Finding("filename_pair", folder.name, "no data files found"))
    for stem in sorted(set(metas) - set(datas)):
        findings.append(Finding("filename_pair", metas[stem].name, "meta file without data"))
    for stem, data in sorted(datas.items()):
        meta = metas.get(stem)
        if meta is None:
            findings.append(Finding("filename_pair", data.name, f"no {stem}.meta.csv"))
            continue
        findings += screen_pair(data, meta, allow_singular=allow_singular)
    return findings


def screen_pair(
    data_path: Path, meta_path: Path, allow_singular: Iterable[str] = ()
) -> list[Finding]:
    """Screen one data file and its metadata file."""
    out: list[Finding] = []
    name = data_path.name

    def add(rule: str, message: str, file: str = name) -> None:
        out.append(Finding(rule, file, message))

    for path in (data_path, meta_path):
        _check_filename(path, add)
    if meta_path.name != data_path.name.removesuffix(".csv") + ".meta.csv":
        add("filename_pair", f"{meta_path.name} does not match {data_path.name}")
    for path in (data_path, meta_path):
        raw = path.read_bytes()
        if raw.startswith(b"\xef\xbb\xbf"):
            add("encoding", "starts with a byte-order mark", path.name)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            add("encoding", f"not UTF-8 ({exc.reason} at byte {exc.start})", path.name)
            return out
    # Duplicate headers are checked on the raw header: readers rename them silently.
    header = _header(data_path)
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        add("col_duplicate", f"repeated columns: {dupes}")
        return out
    meta_header = _header(meta_path)
    if len(set(meta_header)) != len(meta_header):
        add("col_duplicate", "repeated columns in the metadata file", meta_path.name)
        return out
    try:
        data, meta = _read(data_path), _read(meta_path)
    except Exception as exc:  # a file the screener cannot parse fails, whatever the cause
        add("encoding", f"cannot be read as CSV: {exc}")
        return out

    missing = [c for c in REQUIRED_DATA if c not in data.columns]
    if missing:
        add("data_required_columns", f"missing {missing}")
    missing_meta = [c for c in REQUIRED_META if c not in meta.columns]
    if missing_meta:
        add("meta_required_columns", f"missing {missing_meta}", meta_path.name)
    if missing or missing_meta:
        return out  # the rest needs the required columns

    _check_columns(data, add)
    filters, indicators, groups = _check_meta(data, meta, meta_path.name, add)
    _check_null_symbols(data, meta, meta_path.name, add)
    _check_time(data, add)
    _check_geography(data, add)
    _check_filters(data, meta, filters, groups, set(allow_singular), add)
    _check_indicators(data, indicators, add)
    _check_duplicates(data, filters + groups, add)
    return out


Add = Callable[..., None]


def _check_filename(path: Path, add: Add) -> None:
    base = path.name.removesuffix(".csv").removesuffix(".meta")
    if " " in path.name:
        add("filename_spaces", "file name contains spaces", path.name)
    if path.suffix != ".csv" or re.search(r"[^A-Za-z0-9_\- ]", base):
        add("filename_special", "only letters, digits, - and _ are allowed", path.name)


def _check_columns(data: pl.DataFrame, add: Add) -> None:
    for col in data.columns:
        if " " in col:
            add("col_name_spaces", f"column {col!r} contains spaces")
        if not re.fullmatch(r"[a-z0-9_]+", col):
            add("col_snake_case", f"column {col!r} is not snake_case")
        if len(col) > LIMIT_COL_NAME:
            add("col_name_length", f"column {col!r} has {len(col)} characters")


def _check_meta(
    data: pl.DataFrame, meta: pl.DataFrame, mfile: str, add: Add
) -> tuple[list[str], list[str], list[str]]:
    def bad(rule: str, message: str) -> None:
        add(rule, message, mfile)

    names = meta["col_name"].to_list()
    types = dict(zip(names, meta["col_type"].to_list(), strict=True))
    for col in names:
        if col in REQUIRED_DATA or col in GEOGRAPHY_COLS:
            bad("meta_invalid_col_name", f"{col!r} is a time/geography column")
        if col not in data.columns:
            bad("meta_to_data", f"{col!r} is not a column of the data file")
    for col, kind in types.items():
        if kind not in ("Filter", "Indicator"):
            bad("meta_col_type", f"{col!r} has col_type {kind!r}")
    labels = meta["label"].to_list()
    for col, label in zip(names, labels, strict=True):
        if not label.strip():
            bad("meta_label", f"{col!r} has no label")
        elif len(label) > LIMIT_LABEL:
            bad("meta_label", f"label of {col!r} has {len(label)} characters")
    repeated = sorted({lb for lb in labels if lb and labels.count(lb) > 1})
    if repeated:
        bad("meta_label", f"labels used twice: {repeated}")
    if len(set(names)) != len(names):
        bad("col_duplicate", "a col_name is listed twice")
    groups: list[str] = []
    for row in meta.iter_rows(named=True):
        col, kind = row["col_name"], row["col_type"]
        if kind == "Filter" and any(
            row[f] for f in ("indicator_grouping", "indicator_unit", "indicator_dp")
        ):
            bad("meta_indicator_fields", f"filter {col!r} has indicator fields set")
        if kind == "Indicator":
            if row["filter_hint"] or row["filter_grouping_column"] or row.get("filter_default"):
                bad("meta_filter_fields", f"indicator {col!r} has filter fields set")
            if row["indicator_unit"] not in UNITS:
                bad("meta_indicator_unit", f"{col!r} has unit {row['indicator_unit']!r}")
            if not re.fullmatch(r"\d+", row["indicator_dp"]):
                bad("meta_indicator_dp", f"{col!r} has indicator_dp {row['indicator_dp']!r}")
        group = row["filter_grouping_column"]
        if kind == "Filter" and group:
            if group not in data.columns or types.get(group) == "Filter":
                bad("meta_filter_group", f"{col!r} groups by {group!r}")
            groups.append(group)
        for key, value in row.items():
            if value != value.strip():
                bad("meta_whitespace", f"{key} of {col!r} has surrounding whitespace")
    allowed = set(REQUIRED_DATA) | GEOGRAPHY_COLS | set(names) | set(groups)
    for col in data.columns:
        if col not in allowed:
            add("data_to_meta", f"column {col!r} is not in the metadata")
    filters = [c for c, k in types.items() if k == "Filter" and c in data.columns]
    indicators = [c for c, k in types.items() if k == "Indicator" and c in data.columns]
    return filters, indicators, [g for g in groups if g in data.columns]


def _columns_where(data: pl.DataFrame, columns: Iterable[str],
                   bad: Callable[[pl.Expr], pl.Expr]) -> dict[str, list[str]]:
    """The distinct values for which `bad` holds, per column that has any.

    The columns are stacked into one (variable, value) frame and `bad` runs once on it:
    the screener runs on every file of every group's extract (about 2,000 files
    nationally), where one expression per column cost more than the checking itself.
    """
    columns = list(columns)
    if not columns or data.is_empty():
        return {}
    hits = data.select(columns).unpivot(on=columns).filter(bad(pl.col("value"))).unique()
    found: dict[str, list[str]] = {}
    for column, value in hits.sort("value").iter_rows():
        found.setdefault(column, []).append(value)
    return {c: found[c] for c in columns if c in found}


def _check_null_symbols(data: pl.DataFrame, meta: pl.DataFrame, mfile: str, add: Add) -> None:
    symbols = sorted(NULL_SYMBOLS | LEGACY_SYMBOLS)
    for col, found in _columns_where(data, data.columns, lambda c: c.is_in(symbols)).items():
        add("null_symbols", f"column {col!r} contains {found}")
    for col in meta.columns:
        in_meta = set(meta[col].to_list()) & NULL_SYMBOLS
        if in_meta:
            add("null_symbols", f"metadata column {col!r} contains {sorted(in_meta)}", mfile)


def _check_time(data: pl.DataFrame, add: Add) -> None:
    identifiers = set(data["time_identifier"].unique().to_list())
    unknown = identifiers - TIME_IDENTIFIERS_SIX - TIME_IDENTIFIERS_FOUR
    if unknown:
        add("time_identifier", f"not accepted: {sorted(unknown)}")
    if len(identifiers) > 1:
        add("time_identifier", f"mixes identifiers {sorted(identifiers)}")
    for period, ident in data.select("time_period", "time_identifier").unique().iter_rows():
        six = ident in TIME_IDENTIFIERS_SIX
        if six and not re.fullmatch(r"\d{6}", period):
            add("time_period", f"{period!r} is not six digits for {ident}")
        elif six and (int(period[2:4]) + 1) % 100 != int(period[4:6]):
            add("time_period", f"{period!r} does not name consecutive years")
        elif ident in TIME_IDENTIFIERS_FOUR and not re.fullmatch(r"\d{4}", period):
            add("time_period", f"{period!r} is not four digits for {ident}")


def _check_geography(data: pl.DataFrame, add: Add) -> None:
    levels = set(data["geographic_level"].unique().to_list())
    for level in sorted(levels - set(LEVEL_COLUMNS)):
        add("geographic_level", f"{level!r} is not an accepted geographic level")
    for level in sorted(levels & set(LEVEL_COLUMNS)):
        rows = data.filter(pl.col("geographic_level") == level)
        for col in LEVEL_COLUMNS[level]:
            if col not in data.columns:
                add("geography_columns", f"{level} rows need column {col!r}")
            elif (rows[col] == "").any():
                add("geography_columns", f"{col!r} is blank on some {level} rows")
    for col in ("country_code", "country_name"):
        if col in data.columns and (data[col] == "").any():
            add("geography_columns", f"{col!r} is blank on some rows")
    # Only LA-and-below rows may carry LA columns (country columns go on every row).
    if "Local authority" in LEVEL_COLUMNS:
        higher = data.filter(pl.col("geographic_level").is_in(["National", "Regional"]))
        for col in LEVEL_COLUMNS["Local authority"]:
            if col in data.columns and (higher[col] != "").any():
                add("geography_overcompleted", f"{col!r} is filled on National/Regional rows")
    pairs = data.select("country_code", "country_name").unique()
    for code, name in pairs.iter_rows():
        if COUNTRIES.get(code) != name:
            add("geography_codes", f"country {code!r}/{name!r} is not a valid combination")
    la_cols = ("new_la_code", "old_la_code", "la_name")
    if all(c in data.columns for c in la_cols):
        las = data.filter(pl.col("geographic_level") == "Local authority").select(la_cols)
        las = las.unique()
        for new, old, _name in las.iter_rows():
            if not NEW_LA_CODE.match(new):
                add("geography_codes", f"new_la_code {new!r} is not a GSS LA code")
            if not OLD_LA_CODE.match(old):
                add("geography_codes", f"old_la_code {old!r} is not three digits")
            if len(new) > LIMIT_LOCATION_CODE:
                add("geography_codes", f"location code {new!r} is too long")
        for key in la_cols:
            others = [c for c in la_cols if c != key]
            clash = las.group_by(key).agg(pl.struct(others).n_unique().alias("n"))
            for value in clash.filter(pl.col("n") > 1)[key].to_list():
                add("geography_codes", f"{key} {value!r} has more than one code/name")
        for value in las["la_name"].to_list():
            if len(value) > LIMIT_ITEM:
                add("filter_item_length", f"la_name {value[:40]!r}… is too long")


def _check_filters(
    data: pl.DataFrame, meta: pl.DataFrame, filters: list[str], groups: list[str],
    allow_singular: set[str], add: Add,
) -> None:
    defaults: dict[str, str] = {}
    if "filter_default" in meta.columns:
        defaults = {
            r["col_name"]: r["filter_default"]
            for r in meta.iter_rows(named=True) if r["col_type"] == "Filter"
        }
    for col in filters + groups:
        items = data[col].unique().to_list()
        if "" in items:
            add("filter_blanks", f"filter {col!r} has blank items")
        spaced = [i for i in items if i != i.strip()]
        if spaced:
            add("filter_whitespace", f"filter {col!r} items with surrounding spaces: {spaced[:3]}")
        if len(items) < 2 and col not in allow_singular:
            add("filter_not_singular", f"filter {col!r} has fewer than two items")
        if len(items) > FILTER_ITEM_LIMIT:
            add("filter_not_singular", f"filter {col!r} has more than {FILTER_ITEM_LIMIT} items")
        default = defaults.get(col) or "Total"
        if default not in items and col not in allow_singular:
            add("filter_default", f"filter {col!r} has no {default!r} item")
        long = [i for i in items if len(i) > LIMIT_ITEM]
        if long:
            add("filter_item_length", f"filter {col!r} has items over {LIMIT_ITEM} characters")


def _check_indicators(data: pl.DataFrame, indicators: list[str], add: Add) -> None:
    def invalid(c: pl.Expr) -> pl.Expr:
        return ~(c.is_in(sorted(SYMBOLS)) | c.str.contains(NUMBER.pattern))

    for col, bad in _columns_where(data, indicators, invalid).items():
        shown = ["<blank>" if v == "" else v for v in bad[:5]]
        add("indicator_values", f"indicator {col!r} has invalid entries {shown}")


def _check_duplicates(data: pl.DataFrame, filters: list[str], add: Add) -> None:
    wanted = (*REQUIRED_DATA, *sorted(GEOGRAPHY_COLS), *filters)
    keys = [c for c in dict.fromkeys(wanted) if c in data.columns]
    dupes = data.height - data.select(keys).unique().height
    if dupes:
        add("duplicates", f"{dupes} rows repeat the same time/geography/filter combination")


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]
