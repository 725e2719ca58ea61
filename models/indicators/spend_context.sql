-- description: Spend as context beside the outcomes (never suppressed: not personal data;
--   never ranked): spend per pupil, the systemic and individual shares of spend, and the
--   share of the allocation spent, per partnership group, local authority (sum of its
--   groups) and national, by academic year. numerator and denominator are the sums behind
--   each value (pounds, or pupils for spend per pupil).
-- partitioned: false
WITH base AS (
    SELECT 'spend_per_pupil_gbp' AS indicator_id, * FROM indicators.ind_spend_per_pupil_gbp
    UNION ALL
    SELECT 'systemic_spend_percent' AS indicator_id, * FROM indicators.ind_systemic_spend_percent
    UNION ALL
    SELECT 'individual_spend_percent' AS indicator_id, *
    FROM indicators.ind_individual_spend_percent
    UNION ALL
    SELECT 'allocation_spent_percent' AS indicator_id, *
    FROM indicators.ind_allocation_spent_percent
),

group_level AS (
    SELECT
        'partnership_group' AS level, la_code, group_id, academic_year, indicator_id,
        sum(numerator) AS numerator, sum(denominator) AS denominator
    FROM base
    WHERE group_id IS NOT NULL
    GROUP BY ALL
),

rolled AS (
    SELECT * FROM group_level
    UNION ALL
    SELECT
        'local_authority' AS level, la_code, NULL AS group_id, academic_year, indicator_id,
        sum(numerator), sum(denominator)
    FROM group_level
    GROUP BY ALL
    UNION ALL
    SELECT
        'national' AS level, NULL AS la_code, NULL AS group_id, academic_year, indicator_id,
        sum(numerator), sum(denominator)
    FROM group_level
    GROUP BY ALL
)

SELECT
    level,
    la_code,
    group_id,
    academic_year,
    indicator_id,
    CASE
        WHEN denominator > 0
        THEN numerator / denominator * CASE WHEN indicator_id LIKE '%percent' THEN 100 ELSE 1 END
    END AS value,
    numerator,
    denominator
FROM rolled
ORDER BY
    indicator_id,
    academic_year,
    CASE level WHEN 'national' THEN 0 WHEN 'local_authority' THEN 1 ELSE 2 END,
    la_code,
    group_id
