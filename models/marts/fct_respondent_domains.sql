-- description: One row per survey respondent and domain: how many of the domain's items
--   they answered, their mean score with reverse-scored items flipped and skipped items
--   ignored, and whether that mean is positive (>= 4, "agree" or better). Lineage: the
--   submission and first row, plus every row number behind the score.
WITH per_domain AS (
    SELECT
        s.urn,
        s.academic_year,
        d.la_code,
        d.group_id,
        s.respondent_type,
        s.respondent_id,
        s.domain,
        -- One respondent's rows describe one child; the first row's values are taken so
        -- that a stray inconsistency cannot split a respondent in two.
        arg_min_null(s.sen_provision, s.row_number) AS sen_provision,
        arg_min_null(s.year_group, s.row_number) AS year_group,
        count(*) AS items,
        count(s.scored_response) AS answered_items,
        avg(s.scored_response) AS mean_score,
        -- Compared on the sum so a mean of exactly 4 is never lost to floating point.
        CASE
            WHEN count(s.scored_response) > 0
            THEN sum(s.scored_response) >= 4 * count(s.scored_response)
        END AS is_positive,
        -- The first row by (submission, row number): a struct compares field by field.
        min({'submission_id': s.submission_id, 'row_number': s.row_number}) AS first_row,
        list_sort(list(s.row_number)) AS row_numbers
    FROM intermediate.int_voice_responses_scored AS s
    LEFT JOIN marts.dim_school_years AS d
        ON d.urn = s.urn
        AND d.academic_year = s.academic_year
    GROUP BY s.urn, s.academic_year, d.la_code, d.group_id, s.respondent_type,
        s.respondent_id, s.domain
)

-- Plain aggregates, not first(… ORDER BY …) and list(… ORDER BY …): DuckDB sorts each
-- group's rows for every ordered aggregate, and there were five. The same rows in
-- 17.1 / 18.3 s instead of 19.6 / 25.6 s for a national year, 0.7 s instead of 0.9 s for
-- Kent's three (measured side by side, alternated; docs/scaling.md).
SELECT
    * EXCLUDE (first_row, row_numbers),
    first_row['submission_id'] AS submission_id,
    first_row['row_number'] AS row_number,
    row_numbers
FROM per_domain
