"""The EES screener rules: pass on real outputs, fail on files broken each way it checks."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from pipelines.publish.screener import RULES, errors, screen_folder

DATA = "imf_outcome_indicators.csv"
META = "imf_outcome_indicators.meta.csv"


def test_screener_passes_on_published_ees_files(published: Path) -> None:
    findings = screen_folder(published / "ees")
    assert findings == [], "\n".join(map(str, findings))


def test_screener_passes_on_each_group_extract(published: Path) -> None:
    for folder in sorted((published / "groups").iterdir()):
        findings = screen_folder(folder, allow_singular={"partnership_group"})
        assert findings == [], "\n".join(map(str, findings))


def test_group_extract_has_one_partnership_group_by_design(published: Path) -> None:
    # Without the allowance: one group and no Total row, since the folder holds only it.
    folder = published / "groups" / "202-01"
    rules = {f.rule for f in screen_folder(folder)}
    assert rules == {"filter_not_singular", "filter_default"}


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False, empty_string_is_null=False)


def edit_data(fn: Callable[[pl.DataFrame], pl.DataFrame]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        fn(_read(folder / DATA)).write_csv(folder / DATA)

    return apply


def edit_meta(fn: Callable[[pl.DataFrame], pl.DataFrame]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        fn(_read(folder / META)).write_csv(folder / META)

    return apply


def edit_both(data: Callable[[pl.DataFrame], pl.DataFrame],
              meta: Callable[[pl.DataFrame], pl.DataFrame]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        edit_data(data)(folder)
        edit_meta(meta)(folder)

    return apply


def rename_pair(stem: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        (folder / DATA).rename(folder / f"{stem}.csv")
        (folder / META).rename(folder / f"{stem}.meta.csv")

    return apply


def rename_col(old: str, new: str) -> Callable[[Path], None]:
    return edit_both(
        lambda d: d.rename({old: new}),
        lambda m: m.with_columns(pl.col("col_name").replace(old, new)),
    )


def set_meta(col_name: str, field: str, value: str) -> Callable[[Path], None]:
    return edit_meta(lambda m: m.with_columns(
        pl.when(pl.col("col_name") == col_name).then(pl.lit(value)).otherwise(pl.col(field))
        .alias(field)))


def add_meta_row(col_name: str, col_type: str = "Indicator") -> Callable[[Path], None]:
    def fn(m: pl.DataFrame) -> pl.DataFrame:
        row = dict.fromkeys(m.columns, "")
        row |= {"col_name": col_name, "col_type": col_type, "label": "Extra",
                "indicator_dp": "0"}
        return pl.concat([m, pl.DataFrame([row], schema=m.schema)])

    return edit_meta(fn)


def set_where(col: str, value: str, where: pl.Expr | None = None) -> Callable[[Path], None]:
    cond = pl.lit(True) if where is None else where
    return edit_data(lambda d: d.with_columns(
        pl.when(cond).then(pl.lit(value)).otherwise(pl.col(col)).alias(col)))


def first_row(col: str, value: str) -> Callable[[Path], None]:
    return edit_data(lambda d: d.with_row_index("_i").with_columns(
        pl.when(pl.col("_i") == 0).then(pl.lit(value)).otherwise(pl.col(col)).alias(col)
    ).drop("_i"))


def raw_replace(name: str, old: bytes, new: bytes, count: int = 1) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / name
        path.write_bytes(path.read_bytes().replace(old, new, count))

    return apply


def prepend_bom(folder: Path) -> None:
    (folder / DATA).write_bytes(b"\xef\xbb\xbf" + (folder / DATA).read_bytes())


def not_utf8(folder: Path) -> None:
    text = (folder / DATA).read_text(encoding="utf-8").replace("Camden", "Camdén")
    (folder / DATA).write_bytes(text.encode("cp1252"))


LA = pl.col("geographic_level") == "Local authority"
NATIONAL = pl.col("geographic_level") == "National"

BREAKAGES: dict[str, list[Callable[[Path], None]]] = {
    "filename_spaces": [rename_pair("imf outcome indicators")],
    "filename_special": [rename_pair("imf+outcome&indicators")],
    "filename_pair": [lambda f: (f / META).unlink()],
    "encoding": [prepend_bom, not_utf8],
    "data_required_columns": [edit_data(lambda d: d.drop("time_identifier"))],
    "meta_required_columns": [edit_meta(lambda m: m.drop("filter_hint"))],
    "col_duplicate": [raw_replace(DATA, b"attendance_denominator", b"attendance_numerator")],
    "col_name_spaces": [rename_col("sen_provision", "sen provision")],
    "col_snake_case": [rename_col("sen_provision", "SEN_Provision")],
    "col_name_length": [rename_col("belonging_numerator", "belonging_" + "n" * 45)],
    "meta_invalid_col_name": [add_meta_row("la_name", "Filter")],
    "meta_to_data": [add_meta_row("not_a_column")],
    "data_to_meta": [edit_data(lambda d: d.with_columns(pl.lit("1").alias("extra_col")))],
    "meta_col_type": [set_meta("belonging_percent", "col_type", "Measure")],
    "meta_label": [set_meta("belonging_percent", "label", ""),
                   set_meta("belonging_percent", "label", "L" * 101),
                   set_meta("belonging_percent", "label", "Attendance (%)")],
    "meta_indicator_fields": [set_meta("sen_provision", "indicator_unit", "%")],
    "meta_filter_fields": [set_meta("belonging_percent", "filter_hint", "a hint")],
    "meta_indicator_unit": [set_meta("belonging_percent", "indicator_unit", "percent")],
    "meta_indicator_dp": [set_meta("belonging_percent", "indicator_dp", ""),
                          set_meta("belonging_percent", "indicator_dp", "-1")],
    "meta_filter_group": [set_meta("sen_provision", "filter_grouping_column", "no_such")],
    "meta_whitespace": [set_meta("sen_provision", "label", " SEN provision")],
    "null_symbols": [first_row("belonging_percent", "NULL"),
                     first_row("belonging_percent", "N/A")],
    "time_period": [set_where("time_period", "202325"), set_where("time_period", "2025")],
    "time_identifier": [set_where("time_identifier", "Academic Year"),
                        first_row("time_identifier", "Financial year")],
    "geographic_level": [set_where("geographic_level", "Partnership group", LA)],
    "geography_columns": [set_where("la_name", "", LA), set_where("country_code", "", NATIONAL)],
    "geography_overcompleted": [set_where("new_la_code", "E09000007", NATIONAL)],
    "geography_codes": [first_row("country_name", "Britain"),
                        set_where("new_la_code", "E0900007", LA),
                        set_where("old_la_code", "2020", LA),
                        edit_data(lambda d: d.with_row_index("_i").with_columns(
                            pl.when(LA & (pl.col("_i") % 2 == 0)).then(pl.lit("Kamden"))
                            .otherwise(pl.col("la_name")).alias("la_name")).drop("_i"))],
    "filter_blanks": [first_row("sen_provision", "")],
    "filter_whitespace": [set_where("partnership_group", " Total ",
                                    pl.col("partnership_group") == "Total")],
    "filter_not_singular": [set_where("sen_provision", "All pupils")],
    "filter_default": [set_where("partnership_group", "All groups",
                                 pl.col("partnership_group") == "Total"),
                       set_where("sen_provision", "Everyone",
                                 pl.col("sen_provision") == "All pupils")],
    "filter_item_length": [set_where("partnership_group", "G" * 121,
                                     pl.col("partnership_group") != "Total")],
    "indicator_values": [first_row("belonging_percent", ""),
                         first_row("belonging_percent", "12,5"),
                         first_row("belonging_percent", "=1+1")],
    "duplicates": [edit_data(lambda d: pl.concat([d, d.head(1)]))],
}


def test_every_rule_has_a_breakage() -> None:
    assert set(BREAKAGES) == set(RULES)


@pytest.mark.parametrize(
    ("rule", "index"),
    [(rule, i) for rule, fns in BREAKAGES.items() for i in range(len(fns))],
)
def test_screener_fails_on_broken_files(
    published: Path, tmp_path: Path, rule: str, index: int
) -> None:
    folder = tmp_path / "ees"
    folder.mkdir()
    for name in (DATA, META):
        shutil.copy(published / "ees" / name, folder / name)
    assert screen_folder(folder) == []
    BREAKAGES[rule][index](folder)
    findings = errors(screen_folder(folder))
    assert rule in {f.rule for f in findings}, "\n".join(map(str, findings))
