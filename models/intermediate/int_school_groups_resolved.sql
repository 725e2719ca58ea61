-- description: The partnership group each school belonged to in each academic year the
--   warehouse holds data for: the membership with from_year <= year and to_year empty or
--   >= year, with each school under its current URN. Staging keys every record by the URN
--   a school's history now lives under (after academy conversion or merger) while the
--   membership seed lists register URNs, so the membership is mapped through
--   ref.urn_current here, once. Partitioned by year like everything it feeds, so a yearly
--   run needs nothing built outside it.
WITH loaded_years AS (
    SELECT academic_year FROM staging.stg_outcomes__pupil_years
    UNION
    SELECT academic_year FROM staging.stg_voice__responses
    UNION
    SELECT academic_year FROM staging.stg_spend__lines
    UNION
    SELECT academic_year FROM staging.stg_allocations__allocations
),

memberships AS (
    SELECT
        coalesce(c.current_urn, m.urn) AS urn,
        m.urn AS member_urn,
        m.group_id,
        g.la_code,
        m.from_year,
        m.to_year
    FROM ref.group_membership AS m
    LEFT JOIN ref.urn_current AS c ON c.urn = m.urn
    JOIN ref.partnership_groups AS g ON g.group_id = m.group_id
)

SELECT
    y.academic_year,
    m.urn,
    m.group_id,
    m.la_code,
    m.member_urn,
    m.from_year,
    m.to_year
FROM loaded_years AS y
-- 'YYYY/YY' strings compare in year order.
JOIN memberships AS m
    ON m.from_year <= y.academic_year
    AND (m.to_year IS NULL OR m.to_year >= y.academic_year)
-- When a predecessor and its successor both list a membership in force that year, the
-- school's own row wins (it describes the school as it now is), then the latest period.
QUALIFY row_number() OVER (
    PARTITION BY y.academic_year, m.urn
    ORDER BY (m.member_urn = m.urn) DESC, m.from_year DESC, m.group_id
) = 1
