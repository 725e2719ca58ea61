"""One Excel workbook per partnership group: a notes sheet, then one sheet per table.

Written with xlsxwriter directly (not `polars.write_excel`) so that every cell's type is
chosen here: indicator cells holding a number become numbers (a gap of -3.2 stays a
negative number), symbols and names become strings, and nothing is ever a formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import xlsxwriter

from pipelines.publish.ees import NUMBER, EesTable
from pipelines.publish.safety import safe_text

# A fixed creation date keeps the workbook byte-identical between runs with the same data.
FIXED_CREATED = datetime(2000, 1, 1)


def write_workbook(
    path: Path, title: str, notes: Sequence[tuple[str, str]], tables: Sequence[EesTable]
) -> Path:
    """Write `tables` (already filtered to one group) with a notes sheet first."""
    # strings_to_* off: xlsxwriter would otherwise turn "=..." text into a live formula
    # and "http..." into a link; every cell is typed explicitly below instead.
    workbook = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
         # Small workbooks: building them in memory avoids a temporary file per sheet.
         "in_memory": True},
    )
    workbook.set_properties({"title": safe_text(title), "created": FIXED_CREATED})
    bold = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    heading = workbook.add_format({"bold": True, "font_size": 14})

    sheet = workbook.add_worksheet("Notes")
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 100)
    sheet.write_string(0, 0, safe_text(title), heading)
    for row, (key, text) in enumerate(notes, start=2):
        sheet.write_string(row, 0, safe_text(key), bold)
        sheet.write_string(row, 1, safe_text(text), wrap)

    for table in tables:
        frame = table.public_frame()
        indicator_cols = {m.col_name for m in table.meta if m.col_type == "Indicator"}
        labels = {m.col_name: m.label for m in table.meta}
        ws = workbook.add_worksheet(table.title[:31])
        for c, col in enumerate(frame.columns):
            ws.write_string(0, c, col, bold)
            # The label row says in words what each column holds.
            ws.write_string(1, c, safe_text(labels.get(col, col.replace("_", " "))), wrap)
            ws.set_column(c, c, max(12, min(40, len(col) + 2)))
        for r, values in enumerate(frame.iter_rows(), start=2):
            for c, (col, value) in enumerate(zip(frame.columns, values, strict=True)):
                if col in indicator_cols and NUMBER.match(value):
                    ws.write_number(r, c, float(value))
                else:
                    # Text columns were neutralised by public_frame(); symbols are c/z/x.
                    ws.write_string(r, c, value)
        ws.freeze_panes(2, 0)
    workbook.close()
    return path
