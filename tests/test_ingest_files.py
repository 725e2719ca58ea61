"""Reading files: encodings, xlsx, headers, and every way a whole file is refused."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from conftest import ImfEnv
from ingest.fixtures import ref_template, wh  # noqa: F401
from ingest.support import VALID, csv_bytes, ingest, query, row, write, xlsx_bytes


def log(warehouse: Path) -> list[dict[str, object]]:
    columns = ["file_name", "status", "reason", "refusal_kind", "rows_read", "rows_loaded",
               "rows_quarantined", "encoding", "file_format", "extra_columns", "landing_path"]
    return [dict(zip(columns, r, strict=True)) for r in query(
        warehouse, f"SELECT {', '.join(columns)} FROM audit.submission_log ORDER BY file_name")]


# An en dash is byte 0x96 in Windows-1252, where Latin-1 has a control character.
DESCRIPTION = "Café visits \u2013 £ spent"


@pytest.mark.parametrize(("encoding", "bom"), [("utf-8", False), ("utf-8", True),
                                               ("cp1252", False)])
def test_encodings(imf_env: ImfEnv, wh: Path, encoding: str, bom: bool) -> None:  # noqa: F811
    data = csv_bytes([row("spend", amount_gbp="£1,234.50", description=DESCRIPTION)],
                     encoding=encoding)
    write(imf_env.landing, "spend", "spend.csv", (b"\xef\xbb\xbf" if bom else b"") + data)
    summary = ingest("spend", wh)
    assert summary.rows_loaded == 1, summary
    assert query(wh, "SELECT amount_gbp::VARCHAR, description FROM raw.spend") == [
        ("1234.50", DESCRIPTION)]
    assert log(wh)[0]["encoding"] == {"utf-8": "utf-8-sig" if bom else "utf-8",
                                      "cp1252": "cp1252"}[encoding]


def test_xlsx_first_sheet_typed_cells_and_formulas_not_evaluated(
    imf_env: ImfEnv, wh: Path  # noqa: F811
) -> None:
    header = list(VALID["spend"])
    values = [100000, "2025/26", "spring", "other", 1250.5, '=HYPERLINK("http://x","y")']
    write(imf_env.landing, "spend", "return.xlsx", xlsx_bytes([header, values, [], values],
                                                              extra_sheet=True))
    summary = ingest("spend", wh)
    assert (summary.rows_read, summary.rows_loaded) == (2, 2), summary
    # The formula's cached value (xlsxwriter stores 0) is read; evaluating it would give "y".
    assert query(wh, "SELECT row_number, urn, amount_gbp::VARCHAR, description FROM raw.spend "
                 "ORDER BY 1") == [(2, 100000, "1250.50", "0"), (4, 100000, "1250.50", "0")]
    entry = log(wh)[0]
    assert entry["file_format"] == "xlsx" and "'Notes'" in str(entry["reason"])


def test_headers_normalised_and_extra_columns_listed(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    good = row("allocations")
    header = [" URN ", "Academic Year", "allocation-GBP", "Notes", ""]
    data = csv_bytes([{" URN ": good["urn"], "Academic Year": good["academic_year"],
                       "allocation-GBP": good["allocation_gbp"], "Notes": "n", "": ""}], header)
    write(imf_env.landing, "allocations", "a.csv", data)
    assert ingest("allocations", wh).rows_loaded == 1
    entry = log(wh)[0]
    assert entry["extra_columns"] == ["Notes"] and "'Notes'" in str(entry["reason"])


def test_missing_column_refuses_and_keeps_bytes(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    good = row("outcomes")
    del good["sessions_possible"]
    data = csv_bytes([good])
    write(imf_env.landing, "outcomes", "x.csv", data)
    summary = ingest("outcomes", wh)
    assert summary.count("refused") == 1
    entry = log(wh)[0]
    assert entry["status"] == "refused" and entry["refusal_kind"] == "missing_column"
    assert str(entry["reason"]).startswith(
        "outcomes/x.csv was not loaded: it has no column 'sessions_possible' (found: urn, ")
    assert str(entry["reason"]).endswith("Add the column and send the file again.")
    kept = imf_env.landing / "_refused" / "outcomes" / "x.csv"
    assert kept.read_bytes() == data and entry["landing_path"] == str(kept)
    assert not (imf_env.landing / "outcomes" / "x.csv").exists()
    assert query(wh, "SELECT count(*) FROM raw.outcomes")[0][0] == 0


def test_optional_column_may_be_absent(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    good = row("spend")
    del good["description"]
    write(imf_env.landing, "spend", "s.csv", csv_bytes([good]))
    assert ingest("spend", wh).rows_loaded == 1


CSV = csv_bytes([row("spend")])


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("notes.txt", CSV, "wrong_extension"),
    ("book.csv", xlsx_bytes([["a"]]), "wrong_extension"),
    ("text.xlsx", CSV, "wrong_extension"),
    ("old.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "unreadable_file"),
    ("empty.csv", b"", "empty_file"),
    ("blank.csv", b"\r\n\r\n", "empty_file"),
    ("binary.csv", bytes(range(256)) * 40, "unreadable_file"),
    ("utf16.csv", "\ufeff".encode("utf-16-le") + CSV.decode().encode("utf-16-le"), "encoding"),
    ("twice.csv", csv_bytes([row("spend")], header=["urn", "URN", *list(VALID["spend"])[1:]]),
     "duplicate_column"),
    ("corrupt.xlsx", b"PK\x03\x04" + b"\x00" * 100, "unreadable_file"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 20 else "")
def test_refusals(imf_env: ImfEnv, wh: Path, name: str, data: bytes, kind: str) -> None:  # noqa: F811
    write(imf_env.landing, "spend", name, data)
    summary = ingest("spend", wh)
    assert [f.refusal_kind for f in summary.files] == [kind], summary
    assert (imf_env.landing / "_refused" / "spend" / name).read_bytes() == data
    assert "send" in str(summary.files[0].reason) or "Copy" in str(summary.files[0].reason)


def test_header_only_loads_zero_rows(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    write(imf_env.landing, "voice", "v.csv", ",".join(VALID["voice"]).encode() + b"\n")
    summary = ingest("voice", wh)
    assert summary.count("loaded") == 1 and summary.rows_read == 0


def test_zip_bomb_refused(imf_env: ImfEnv, wh: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
                          ) -> None:
    monkeypatch.setattr("pipelines.ingest.readers.MAX_XLSX_UNPACKED_BYTES", 1 << 20)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (4 << 20))  # 4 MB -> ~4 kB
    write(imf_env.landing, "spend", "bomb.xlsx", buffer.getvalue())
    summary = ingest("spend", wh)
    assert summary.files[0].refusal_kind == "too_large"


def test_symlink_is_refused_not_followed(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    outside = imf_env.root / "secret.csv"
    outside.write_bytes(CSV)
    (imf_env.landing / "spend" / "link.csv").symlink_to(outside)
    summary = ingest("spend", wh)
    assert summary.files[0].refusal_kind == "unsafe_path"
    assert query(wh, "SELECT count(*) FROM raw.spend")[0][0] == 0
    assert (imf_env.landing / "_refused" / "spend" / "link.csv").is_symlink()
    assert outside.read_bytes() == CSV


def test_ragged_blank_and_multiline_rows(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    header = ",".join(VALID["spend"])
    good = ",".join(VALID["spend"].values())
    multiline = good.rsplit(",", 1)[0] + ',"two\nlines"'
    text = "\r\n".join([header, good, ",,,,,", good + ",surplus", multiline, "100000,2025/26"])
    write(imf_env.landing, "spend", "s.csv", text.encode())
    summary = ingest("spend", wh)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_quarantined) == (4, 2, 2)
    assert query(wh, "SELECT row_number, description FROM raw.spend ORDER BY 1") == [
        (2, "training"), (5, "two\nlines")]
    reasons = set(query(wh, "SELECT row_number, rule FROM audit.quarantine"))
    assert (4, "extra_values") in reasons and (6, "required_value") in reasons
    (row_json,) = query(wh, "SELECT row_json FROM audit.quarantine_rows WHERE row_number = 4")[0]
    assert json.loads(row_json)["(beyond the last column)"] == "surplus"
