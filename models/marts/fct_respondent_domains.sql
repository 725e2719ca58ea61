-- description: One row per survey respondent and domain: how many of the domain's items
--   they answered, their mean score with reverse-scored items flipped and skipped items
--   ignored, and whether that mean is positive (>= 4, "agree" or better). Lineage: the
--   submission and first row, plus every row number behind the score.
SELECT
    s.urn,
    s.academic_year,
    d.la_code,
    d.group_id,
    s.respondent_type,
    s.respondent_id,
    s.domain,
    -- One respondent's rows describe one child; the first row's values are taken so that
    -- a stray inconsistency cannot split a respondent in two.
    first(s.sen_provision ORDER BY s.row_number) AS sen_provision,
    first(s.year_group ORDER BY s.row_number) AS year_group,
    count(*) AS items,
    count(s.scored_response) AS answered_items,
    avg(s.scored_response) AS mean_score,
    -- Compared on the sum so a mean of exactly 4 is never lost to floating point.
    CASE
        WHEN count(s.scored_response) > 0
        THEN sum(s.scored_response) >= 4 * count(s.scored_response)
    END AS is_positive,
    first(s.submission_id ORDER BY s.submission_id, s.row_number) AS submission_id,
    first(s.row_number ORDER BY s.submission_id, s.row_number) AS row_number,
    list(s.row_number ORDER BY s.row_number) AS row_numbers
FROM intermediate.int_voice_responses_scored AS s
LEFT JOIN marts.dim_school_years AS d
    ON d.urn = s.urn
    AND d.academic_year = s.academic_year
GROUP BY s.urn, s.academic_year, d.la_code, d.group_id, s.respondent_type,
    s.respondent_id, s.domain
