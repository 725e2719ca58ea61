"""File-level cases, written once per run (in the first LA with enough schools, latest year):

- windows_1252_file: one school's spend in a Windows-1252 CSV with £ and é (valid);
- xlsx_file: one school's outcomes as an .xlsx workbook (valid);
- missing_column: one school's survey file without `collected_on` (refused whole);
- unreadable_file: random bytes named .csv; empty_file: a 0-byte .csv;
- wrong_extension: a PDF dropped into the spend folder;
- resubmission: a later file for one school's outcomes (urn, year) and one school's summer
  spend (urn, year, term) that replaces the rows of the main file for that unit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.generate import frames
from pipelines.generate.academic import file_label, label
from pipelines.generate.faults import FaultInjector
from pipelines.generate.files import LandingWriter
from pipelines.generate.spend import money
from pipelines.generate.structure import Structure

MIN_SCHOOLS = 5
PDF_BYTES = (b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
             b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
             b"trailer <</Root 1 0 R>>\n%%EOF\n")
CP1252_DESCRIPTION = "Café-style nurture room resources (£ shared with the family hub)"
RESUBMITTED_TERM = "summer"


@dataclass(frozen=True)
class SpecialFiles:
    cp1252_urn: int
    xlsx_urn: int
    missing_column_urn: int
    resubmitted_outcomes_urn: int
    resubmitted_spend_urn: int

    @staticmethod
    def choose(rng: np.random.Generator, struct: Structure, active: np.ndarray
               ) -> SpecialFiles:
        urns = rng.choice(struct.urn[active], size=MIN_SCHOOLS, replace=False).tolist()
        return SpecialFiles(*(int(u) for u in urns))

    def split(self, source: str, frame: pl.DataFrame) -> dict[int, pl.DataFrame]:
        """Rows that go into a separate file instead of the LA's main file."""
        urn = {"spend": self.cp1252_urn, "outcomes": self.xlsx_urn,
               "voice": self.missing_column_urn}.get(source)
        return {} if urn is None else {urn: frame.filter(pl.col("urn") == urn)}

    def _unit(self, source: str) -> pl.Expr | None:
        if source == "outcomes":
            return pl.col("urn") == str(self.resubmitted_outcomes_urn)
        if source == "spend":
            return ((pl.col("urn") == str(self.resubmitted_spend_urn))
                    & (pl.col("term") == RESUBMITTED_TERM))
        return None

    def protected(self, source: str, text: pl.DataFrame) -> np.ndarray:
        """Rows of the unit that will be resubmitted: kept clean in the main file."""
        unit = self._unit(source)
        if unit is None:
            return np.zeros(text.height, dtype=np.bool_)
        return text.select(unit.alias("p"))["p"].to_numpy().copy()

    def write(self, source: str, writer: LandingWriter, injector: FaultInjector, code: str,
              start: int, main: pl.DataFrame, split: dict[int, pl.DataFrame],
              bool_style: tuple[str, str], date_style: str, main_rel: str) -> None:
        stem = f"{source}/{code}_{file_label(start)}_{source}"
        yl = label(start)

        def text(frame: pl.DataFrame) -> pl.DataFrame:
            return frames.as_text(frame, bool_style, date_style)

        if source == "spend":
            unit = main.filter((pl.col("urn") == self.resubmitted_spend_urn)
                               & (pl.col("term") == RESUBMITTED_TERM))
            _resubmit(writer, injector, f"{stem}_{self.resubmitted_spend_urn}_summer_v2.csv",
                      text(_revised_spend(unit)), main_rel, self.resubmitted_spend_urn, yl,
                      RESUBMITTED_TERM)
            rows = split[self.cp1252_urn].with_columns(
                pl.lit(CP1252_DESCRIPTION).alias("description"))
            rel = f"{stem}_{self.cp1252_urn}.csv"
            writer.csv(rel, text(rows), encoding="cp1252", la_code=code, academic_year=yl)
            injector.record(kind="windows_1252_file", source=source, file=rel,
                            urn=self.cp1252_urn)
            rel = f"{stem}_summary.pdf"
            writer.raw(rel, PDF_BYTES, "pdf")
            injector.record(kind="wrong_extension", source=source, file=rel)
        elif source == "allocations":
            rel = f"{stem}_copy.csv"
            noise = np.random.default_rng(start).bytes(4096)
            writer.raw(rel, b"\x00\x81\x9d\x00" + noise, "unknown")
            injector.record(kind="unreadable_file", source=source, file=rel)
            rel = f"{stem}_late.csv"
            writer.raw(rel, b"", "csv", rows=0)
            injector.record(kind="empty_file", source=source, file=rel)
        elif source == "outcomes":
            urn = self.resubmitted_outcomes_urn
            unit = main.filter(pl.col("urn") == urn)
            _resubmit(writer, injector, f"{stem}_{urn}_v2.csv",
                      text(_revised_outcomes(unit, start)), main_rel, urn, yl, None)
            rel = f"{stem}_{self.xlsx_urn}.xlsx"
            writer.xlsx(rel, split[self.xlsx_urn], la_code=code, academic_year=yl)
            injector.record(kind="xlsx_file", source=source, file=rel, urn=self.xlsx_urn)
        elif source == "voice":
            rel = f"{stem}_{self.missing_column_urn}.csv"
            rows = text(split[self.missing_column_urn]).drop("collected_on")
            writer.csv(rel, rows, la_code=code, academic_year=yl)
            injector.record(kind="missing_column", source=source, file=rel,
                            column="collected_on", urn=self.missing_column_urn)


def _resubmit(writer: LandingWriter, injector: FaultInjector, rel: str, rows: pl.DataFrame,
              replaces: str, urn: int, year: str, term: str | None) -> None:
    source = rel.split("/")[0]
    writer.csv(rel, rows, la_code=replaces.split("/")[1][:3], academic_year=year)
    injector.record(kind="resubmission", source=source, file=rel,
                    replaces={"file": replaces, "urn": urn, "academic_year": year, "term": term},
                    rows=rows.height)


def _revised_spend(unit: pl.DataFrame) -> pl.DataFrame:
    """The corrected return: every amount re-stated 5% higher (money as plain text)."""
    pence = (unit["amount_gbp"].str.replace_all(r"[£,]", "").str.replace(".", "", literal=True)
             .cast(pl.Int64) * 105 // 100)
    return unit.with_columns(money(pence.to_numpy()).alias("amount_gbp"))


def _revised_outcomes(unit: pl.DataFrame, start: int) -> pl.DataFrame:
    """The corrected return: plan reviews the school had forgotten to record."""
    missing = pl.col("sen_provision").is_in(["K", "E"]) & pl.col("plan_reviewed_on").is_null()
    return unit.with_columns(
        pl.when(missing).then(pl.lit(dt.date(start + 1, 3, 2)))
        .otherwise(pl.col("plan_reviewed_on")).alias("plan_reviewed_on"))
