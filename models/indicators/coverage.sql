-- description: Coverage, for honesty about gaps: per partnership group, local authority
--   (sum of its groups) and national, academic year and source, how many schools are in
--   the group and how many sent current data (schools_reporting_percent as value).
-- partitioned: false
WITH group_level AS (
    SELECT
        'partnership_group' AS level, la_code, group_id, academic_year, source,
        sum(schools_in_group)::BIGINT AS schools_in_group,
        sum(schools_reporting)::BIGINT AS schools_reporting
    FROM indicators.ind_schools_reporting_percent
    WHERE group_id IS NOT NULL
    GROUP BY ALL
),

rolled AS (
    SELECT * FROM group_level
    UNION ALL
    SELECT
        'local_authority' AS level, la_code, NULL AS group_id, academic_year, source,
        sum(schools_in_group)::BIGINT, sum(schools_reporting)::BIGINT
    FROM group_level
    GROUP BY ALL
    UNION ALL
    SELECT
        'national' AS level, NULL AS la_code, NULL AS group_id, academic_year, source,
        sum(schools_in_group)::BIGINT, sum(schools_reporting)::BIGINT
    FROM group_level
    GROUP BY ALL
)

SELECT
    level,
    la_code,
    group_id,
    academic_year,
    source,
    schools_in_group,
    schools_reporting,
    CASE WHEN schools_in_group > 0 THEN 100.0 * schools_reporting / schools_in_group END AS value
FROM rolled
ORDER BY
    academic_year,
    source,
    CASE level WHEN 'national' THEN 0 WHEN 'local_authority' THEN 1 ELSE 2 END,
    la_code,
    group_id
