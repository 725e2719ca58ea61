-- description: Every outcome indicator (person-level and weighted), unsuppressed: the base
--   cells of the ind_* models summed to the five EES SEN breakdowns and to three levels
--   (partnership group; local authority = the sum of its groups; national = all data
--   loaded), with the value, a 95% Wilson score interval (person-level only), the gap to
--   `No SEN provision` and the change from the previous academic year, both in percentage
--   points. The roll-up lives here once, for all indicators. Only schools placed in a
--   partnership group count, so every level adds up exactly. For auditors and the
--   disclosure-control step only: never published as it stands.
-- partitioned: false
WITH base AS (
    SELECT 'attendance_percent' AS indicator_id, 'weighted' AS kind, * FROM indicators.ind_attendance_percent
    UNION ALL
    SELECT 'base_majority_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_base_majority_percent
    UNION ALL
    SELECT 'belonging_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_belonging_percent
    UNION ALL
    SELECT 'early_identified_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_early_identified_percent
    UNION ALL
    SELECT 'expected_standard_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_expected_standard_percent
    UNION ALL
    SELECT 'family_confidence_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_family_confidence_percent
    UNION ALL
    SELECT 'mainstream_time_percent' AS indicator_id, 'weighted' AS kind, * FROM indicators.ind_mainstream_time_percent
    UNION ALL
    SELECT 'participation_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_participation_percent
    UNION ALL
    SELECT 'permanently_excluded_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_permanently_excluded_percent
    UNION ALL
    SELECT 'persistent_absence_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_persistent_absence_percent
    UNION ALL
    SELECT 'plan_reviewed_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_plan_reviewed_percent
    UNION ALL
    SELECT 'plan_targets_met_percent' AS indicator_id, 'weighted' AS kind, * FROM indicators.ind_plan_targets_met_percent
    UNION ALL
    SELECT 'safety_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_safety_percent
    UNION ALL
    SELECT 'suspended_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_suspended_percent
    UNION ALL
    SELECT 'sustained_destination_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_sustained_destination_percent
    UNION ALL
    SELECT 'unexplained_leaver_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_unexplained_leaver_percent
    UNION ALL
    SELECT 'voice_heard_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_voice_heard_percent
    UNION ALL
    SELECT 'wellbeing_percent' AS indicator_id, 'person' AS kind, * FROM indicators.ind_wellbeing_percent
),

-- Group cells are the atoms: every other level is a sum of them.
cells AS (
    SELECT
        indicator_id, kind, academic_year, la_code, group_id, sen_provision,
        sum(numerator) AS numerator,
        sum(denominator) AS denominator,
        sum(pupils) AS pupils
    FROM base
    WHERE group_id IS NOT NULL AND sen_provision IN ('N', 'K', 'E')
    GROUP BY ALL
),

breakdowns(sen_breakdown, sen_provision) AS (
    VALUES
        ('All pupils', 'N'),
        ('All pupils', 'K'),
        ('All pupils', 'E'),
        ('All SEN provision', 'K'),
        ('All SEN provision', 'E'),
        ('Education, health and care plan', 'E'),
        ('SEN support / SEN without an EHC plan', 'K'),
        ('No SEN provision', 'N')
),

-- A complete grid: every group with any data in a year gets all five breakdowns of every
-- indicator that has data anywhere that year, zero where it has no pupils. A missing row
-- would be read as zero and could let a suppressed neighbour be worked out by subtraction.
loaded_groups AS (
    SELECT DISTINCT academic_year, la_code, group_id FROM cells
),

indicator_years AS (
    SELECT DISTINCT academic_year, indicator_id, kind FROM cells
),

group_level AS (
    SELECT
        'partnership_group' AS level,
        g.la_code,
        g.group_id,
        g.academic_year,
        b.sen_breakdown,
        i.indicator_id,
        i.kind,
        coalesce(sum(c.numerator), 0) AS numerator,
        coalesce(sum(c.denominator), 0) AS denominator,
        coalesce(sum(c.pupils), 0)::BIGINT AS pupils
    FROM loaded_groups AS g
    JOIN indicator_years AS i ON i.academic_year = g.academic_year
    CROSS JOIN breakdowns AS b
    LEFT JOIN cells AS c
        ON c.academic_year = g.academic_year
        AND c.group_id = g.group_id
        AND c.indicator_id = i.indicator_id
        AND c.sen_provision = b.sen_provision
    GROUP BY ALL
),

rolled AS (
    SELECT * FROM group_level
    UNION ALL
    SELECT
        'local_authority' AS level, la_code, NULL AS group_id, academic_year, sen_breakdown,
        indicator_id, kind, sum(numerator), sum(denominator), sum(pupils)::BIGINT
    FROM group_level
    GROUP BY ALL
    UNION ALL
    SELECT
        'national' AS level, NULL AS la_code, NULL AS group_id, academic_year, sen_breakdown,
        indicator_id, kind, sum(numerator), sum(denominator), sum(pupils)::BIGINT
    FROM group_level
    GROUP BY ALL
),

rated AS (
    SELECT
        *,
        CASE WHEN denominator > 0 THEN 100 * numerator / denominator END AS value,
        -- Wilson score interval, z = 1.96 (95%): centre (p + z²/2n) / (1 + z²/n),
        -- half-width z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n). Unlike p ± z·se it stays
        -- inside 0..100 and is honest for small groups and rates near 0 or 100%.
        CASE WHEN kind = 'person' AND denominator > 0 THEN numerator / denominator END AS p,
        1.959963984540054 AS z
    FROM rolled
),

bounded AS (
    SELECT
        * EXCLUDE (p, z),
        -- Clamped to 0..100 and to the rate itself only against floating-point dust
        -- (at 0 of n the lower bound computes as ~1e-16, not 0); the CASE matters
        -- because greatest/least skip NULLs and would turn "no interval" into a number.
        CASE WHEN p IS NOT NULL THEN least(value, greatest(0.0, 100 * (
            (p + z * z / (2 * denominator))
            - z * sqrt(p * (1 - p) / denominator + z * z / (4 * denominator * denominator))
        ) / (1 + z * z / denominator))) END AS ci_lower,
        CASE WHEN p IS NOT NULL THEN greatest(value, least(100.0, 100 * (
            (p + z * z / (2 * denominator))
            + z * sqrt(p * (1 - p) / denominator + z * z / (4 * denominator * denominator))
        ) / (1 + z * z / denominator))) END AS ci_upper
    FROM rated
)

SELECT
    v.level,
    v.la_code,
    v.group_id,
    v.academic_year,
    v.sen_breakdown,
    v.indicator_id,
    v.kind,
    v.numerator,
    v.denominator,
    v.pupils,
    v.value,
    v.ci_lower,
    v.ci_upper,
    -- Gap to pupils with no SEN in the same place and year; not applicable to that row.
    CASE WHEN v.sen_breakdown <> 'No SEN provision' THEN v.value - n.value END AS gap_pp,
    v.value - prev.value AS change_pp
FROM bounded AS v
LEFT JOIN bounded AS n
    ON n.sen_breakdown = 'No SEN provision'
    AND n.level = v.level
    AND n.la_code IS NOT DISTINCT FROM v.la_code
    AND n.group_id IS NOT DISTINCT FROM v.group_id
    AND n.academic_year = v.academic_year
    AND n.indicator_id = v.indicator_id
LEFT JOIN bounded AS prev
    ON prev.academic_year = (CAST(left(v.academic_year, 4) AS INTEGER) - 1)::VARCHAR
        || '/' || right(left(v.academic_year, 4), 2)
    AND prev.level = v.level
    AND prev.la_code IS NOT DISTINCT FROM v.la_code
    AND prev.group_id IS NOT DISTINCT FROM v.group_id
    AND prev.sen_breakdown = v.sen_breakdown
    AND prev.indicator_id = v.indicator_id
ORDER BY
    v.indicator_id,
    v.academic_year,
    CASE v.level WHEN 'national' THEN 0 WHEN 'local_authority' THEN 1 ELSE 2 END,
    v.la_code,
    v.group_id,
    CASE v.sen_breakdown
        WHEN 'All pupils' THEN 0
        WHEN 'All SEN provision' THEN 1
        WHEN 'Education, health and care plan' THEN 2
        WHEN 'SEN support / SEN without an EHC plan' THEN 3
        ELSE 4
    END
