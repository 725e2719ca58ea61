-- id: schools_reporting_percent
-- title: Schools that sent data
-- kind: coverage
-- measures: for each kind of return (pupil records, survey, spend, allocations), the share of the group's schools with current data loaded for the year.
-- why: Every figure is only as complete as the returns behind it; families and the group should see where the picture has gaps.
-- read: Higher means a more complete picture. A figure built from few schools may not describe the whole group. Returns refused or quarantined at the door do not count until they are fixed and sent again.
-- source: staging tables (current submissions) and the group membership in force that year
WITH reporting AS (
    SELECT DISTINCT 'outcomes' AS source, urn, academic_year FROM staging.stg_outcomes__pupil_years
    UNION ALL
    SELECT DISTINCT 'voice' AS source, urn, academic_year FROM staging.stg_voice__responses
    UNION ALL
    SELECT DISTINCT 'spend' AS source, urn, academic_year FROM staging.stg_spend__lines
    UNION ALL
    SELECT DISTINCT 'allocations' AS source, urn, academic_year
    FROM staging.stg_allocations__allocations
),

-- Coverage is reported for the local authorities the warehouse holds data for in a year,
-- so a one-LA run does not list every other group in England at 0%.
loaded_las AS (
    SELECT DISTINCT d.academic_year, d.la_code
    FROM reporting AS r
    JOIN marts.dim_school_years AS d ON d.urn = r.urn AND d.academic_year = r.academic_year
    WHERE d.group_id IS NOT NULL
),

sources(source) AS (
    VALUES ('outcomes'), ('voice'), ('spend'), ('allocations')
)

SELECT
    d.la_code,
    d.group_id,
    d.academic_year,
    s.source,
    count(DISTINCT d.urn) AS schools_in_group,
    count(DISTINCT r.urn) AS schools_reporting
FROM marts.dim_school_years AS d
JOIN loaded_las AS l ON l.academic_year = d.academic_year AND l.la_code = d.la_code
CROSS JOIN sources AS s
LEFT JOIN reporting AS r
    ON r.urn = d.urn
    AND r.academic_year = d.academic_year
    AND r.source = s.source
WHERE d.group_id IS NOT NULL
GROUP BY d.la_code, d.group_id, d.academic_year, s.source
