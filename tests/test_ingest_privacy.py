"""No valid UPN from the landing files is ever stored in clear, wherever it was put."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
from conftest import ImfEnv
from ingest.fixtures import ref_template, wh  # noqa: F401
from ingest.support import VALID, csv_bytes, ingest, query, row, upn, write

from pipelines.ingest.pseudonym import Pseudonymiser

UPN_PATTERN = re.compile(r"[A-Z]\d{11}[A-Z0-9]", re.IGNORECASE)


def test_no_upn_in_clear_anywhere(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    upns = [upn(n) for n in range(1, 44)]
    outcomes = [row("outcomes", upn=u) for u in upns[:30]]
    outcomes += [
        row("outcomes", upn=upns[30], suspensions="99"),  # quarantined: rule failure
        row("outcomes", upn=upns[0]),  # duplicate of the first pupil
        row("outcomes", upn=upns[31], year_group=upns[32]),  # a UPN in the wrong column
        row("outcomes", upn=upns[33].lower()),  # lower case still the same pupil
        # a lost comma glues a UPN to its neighbour: quarantined, the UPN removed
        row("outcomes", upn=upns[40], year_group=f"{upns[41]}11"),
    ]
    write(imf_env.landing, "outcomes", "o.csv", csv_bytes(outcomes))
    voice = [row("voice", respondent_id=upns[34]), row("voice", respondent_id=upns[35],
                                                        response="9")]
    write(imf_env.landing, "voice", "v.csv", csv_bytes(voice))
    spend = [row("spend", description=f"support for {upns[36]} and {upns[37].lower()}"),
             row("spend", description=f"{upns[38]}", amount_gbp="-1"),
             row("spend", description=f"pupil{upns[42]}")]  # no word boundary
    write(imf_env.landing, "spend", "s.csv", csv_bytes(spend))
    extra_header = [*VALID["allocations"], "pupil"]
    write(imf_env.landing, "allocations", "a.csv", csv_bytes(
        [{**row("allocations"), "pupil": upns[39]}], header=extra_header))
    for source in VALID:
        assert ingest(source, wh).count("loaded") == 1

    clear = {u.upper() for u in upns}
    with duckdb.connect(str(wh)) as conn:
        tables = conn.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                              "WHERE schema_name IN ('raw', 'audit')").fetchall()
        found: set[str] = set()
        for schema, table in tables:
            for values in conn.execute(f"SELECT * FROM {schema}.{table}").fetchall():
                for value in values:
                    found |= {m.upper() for m in UPN_PATTERN.findall(str(value))}
    assert not (found & clear)
    for path in [wh, *wh.parent.glob("*.wal")]:
        data = path.read_bytes().upper()
        assert not any(u.encode() in data for u in clear)

    key = Pseudonymiser(imf_env.key)
    assert query(wh, "SELECT count(*) FROM raw.outcomes WHERE pupil_id = ?",
                 [key.one(upns[33])])[0][0] == 1
    assert query(wh, "SELECT count(*) FROM audit.quarantine WHERE rule = 'duplicate_pupil' "
                 "AND value = ?", [key.one(upns[0])])[0][0] == 2


def test_header_cells_shown_in_the_log_carry_no_upn(imf_env: ImfEnv, wh: Path) -> None:  # noqa: F811
    # A file sent without its header row is refused, and the refusal names the columns it
    # found: its first pupil's cells. A header cell that is a UPN is an extra column.
    no_header = csv_bytes([row("outcomes", upn=upn(1)), row("outcomes", upn=upn(2))])
    write(imf_env.landing, "outcomes", "no_header.csv", no_header.split(b"\r\n", 1)[1])
    extra = [*VALID["outcomes"], upn(3)]
    write(imf_env.landing, "outcomes", "extra.csv", csv_bytes(
        [{**row("outcomes", upn=upn(4)), upn(3): "x"}], header=extra))
    assert sorted(f.status for f in ingest("outcomes", wh).files) == ["loaded", "refused"]
    logged = " ".join(str(v) for r in query(
        wh, "SELECT reason, extra_columns FROM audit.submission_log") for v in r).upper()
    assert "FOUND:" in logged and "[UPN REMOVED]" in logged
    assert not {m.upper() for m in UPN_PATTERN.findall(logged)} & {upn(n) for n in (1, 2, 3)}
