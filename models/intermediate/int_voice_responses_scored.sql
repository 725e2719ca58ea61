-- description: Every current survey response with its question's domain and a score on
--   one direction: reverse-scored items (agreeing is the bad answer, e.g. "I often feel
--   left out") are flipped as 6 - response so that 5 is always the good end. Skipped
--   items keep a NULL score and are ignored downstream. A view, not a table: it holds
--   every survey response (30 M rows a national year), only fct_respondent_domains reads
--   it, and computing it again is one join to the 16-row question bank; stored, each
--   year was copied twice more, into the LA shards and the warehouse (docs/scaling.md).
-- materialized: view
SELECT
    v.*,
    q.domain,
    q.reverse_scored,
    CASE
        WHEN v.response IS NULL THEN NULL
        WHEN q.reverse_scored THEN 6 - v.response
        ELSE v.response
    END AS scored_response
FROM staging.stg_voice__responses AS v
-- Inner join: ingest refuses question codes outside the bank, so nothing is lost here.
JOIN ref.question_bank AS q
    ON q.question_code = v.question_code
    AND q.respondent_type = v.respondent_type
