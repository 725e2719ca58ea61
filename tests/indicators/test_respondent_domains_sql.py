"""marts.fct_respondent_domains on rows a person can check by hand: which row is a
respondent's "first" (for its SEN provision, year group and lineage) when the rows come
out of order and from two submissions."""

from __future__ import annotations

import duckdb

from pipelines.models import load_models


def test_first_row_and_row_numbers_by_hand() -> None:
    (model,) = [m for m in load_models() if m.name == "fct_respondent_domains"]
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA intermediate; CREATE SCHEMA marts")
    conn.execute("""CREATE TABLE intermediate.int_voice_responses_scored (
        urn BIGINT, academic_year VARCHAR, respondent_type VARCHAR, respondent_id VARCHAR,
        domain VARCHAR, sen_provision VARCHAR, year_group VARCHAR, scored_response INTEGER,
        submission_id VARCHAR, row_number INTEGER)""")
    conn.execute("CREATE TABLE marts.dim_school_years AS SELECT 1 AS urn, "
                 "'2025/26' AS academic_year, '201' AS la_code, 'G1' AS group_id")
    # One pupil's three answers to one domain, inserted out of order, two submissions.
    conn.executemany(
        "INSERT INTO intermediate.int_voice_responses_scored VALUES "
        "(1, '2025/26', 'pupil', 'r1', 'belonging', ?, ?, ?, ?, ?)",
        [("K", "5", 4, "sub-b", 7),
         ("E", "6", 5, "sub-b", 1),   # the lowest row number: its SEN and year group count
         ("N", "4", None, "sub-a", 3)])  # the first submission: its row is the lineage's
    row = conn.execute(f"SELECT * FROM ({model.select})").fetchall()
    columns = [c[0] for c in conn.description]
    assert len(row) == 1
    got = dict(zip(columns, row[0], strict=True))
    assert got == {
        "urn": 1, "academic_year": "2025/26", "la_code": "201", "group_id": "G1",
        "respondent_type": "pupil", "respondent_id": "r1", "domain": "belonging",
        "sen_provision": "E", "year_group": "6",
        "items": 3, "answered_items": 2, "mean_score": 4.5, "is_positive": True,
        "submission_id": "sub-a", "row_number": 3, "row_numbers": [1, 3, 7],
    }
