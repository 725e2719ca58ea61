"""What a file really is (by its bytes, not its name) and how its text is encoded."""

from __future__ import annotations

import codecs
from pathlib import Path

from charset_normalizer import from_bytes

from pipelines.ingest.files import open_landing_file
from pipelines.ingest.rules import FileRefused

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, or a password-protected workbook
ACCEPTED = (".csv", ".xlsx")
RESEND = "and send the file again"


def sniff_format(name: str, head: bytes, size: int) -> str:
    """'csv' or 'xlsx'; refuse anything else with what to do about it."""
    extension = Path(name).suffix.lower()
    if extension not in ACCEPTED:
        raise FileRefused(
            "wrong_extension",
            f"only .csv and .xlsx files are accepted. Save it as 'CSV UTF-8 (Comma "
            f"delimited)' or 'Excel Workbook (.xlsx)' {RESEND}.",
        )
    if size == 0 or not head.strip():
        raise FileRefused("empty_file", f"the file is empty. Export the data again {RESEND}.")
    if head.startswith(OLE_MAGIC):
        raise FileRefused(
            "wrong_extension" if extension == ".csv" else "unreadable_file",
            "it is an old-format (.xls) or password-protected workbook. Save it as an "
            f"Excel Workbook (.xlsx) without a password {RESEND}.",
        )
    if head.startswith(ZIP_MAGIC):
        if extension == ".xlsx":
            return "xlsx"
        raise FileRefused(
            "wrong_extension",
            f"it is named {extension} but is an Excel workbook (or other zip file). "
            f"Rename it to .xlsx, or save it as CSV, {RESEND}.",
        )
    if extension == ".xlsx":
        raise FileRefused(
            "wrong_extension",
            "it is named .xlsx but is not an Excel workbook. Open it in Excel and save it "
            f"as 'Excel Workbook (.xlsx)', or name it .csv if it is a CSV, {RESEND}.",
        )
    return "csv"


def detect_encoding(path: Path, head: bytes, utf8: bool, has_nul: bool) -> str:
    """'utf-8', 'utf-8-sig' or 'cp1252'; refuse binary files and other encodings."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        has_nul and _looks_utf16(head)
    ):
        raise FileRefused(
            "encoding",
            "it is saved as 'Unicode Text' (UTF-16). Save it as 'CSV UTF-8 (Comma "
            f"delimited)' {RESEND}.",
        )
    if has_nul:
        raise FileRefused(
            "unreadable_file",
            f"it is not a text (CSV) file. Export the data as CSV or .xlsx {RESEND}.",
        )
    if utf8:
        return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    # Not UTF-8: Excel on UK Windows writes Windows-1252 ('CSV (Comma delimited)').
    if _decodes(path, "cp1252") and from_bytes(head).best() is not None:
        return "cp1252"
    guess = from_bytes(head).best()
    seen = f" (it looks like {guess.encoding})" if guess is not None else ""
    raise FileRefused(
        "encoding",
        f"its text is neither UTF-8 nor Windows-1252{seen}. Save it as 'CSV UTF-8 "
        f"(Comma delimited)' {RESEND}.",
    )


def _looks_utf16(head: bytes) -> bool:
    # ASCII text in UTF-16 has a NUL in every other byte: the odd bytes in little-endian,
    # the even bytes in big-endian (both without a byte-order mark).
    if len(head) < 4:
        return False
    half = len(head) // 4
    return head[1::2].count(0) > half or head[0::2].count(0) > half


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open_landing_file(path) as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
