-- description: One row per school and academic year: the partnership group and local
--   authority the school belonged to in that year, for every year the warehouse holds
--   any data for. A school that changes group is counted in the group it belonged to
--   that year. Schools that sent data but belong to no group are kept with an empty
--   group_id (and their register LA): they count in no published figure, which coverage
--   makes visible.
WITH reporting AS (
    SELECT DISTINCT urn, academic_year FROM staging.stg_outcomes__pupil_years
    UNION
    SELECT DISTINCT urn, academic_year FROM staging.stg_voice__responses
    UNION
    SELECT DISTINCT urn, academic_year FROM staging.stg_spend__lines
    UNION
    SELECT DISTINCT urn, academic_year FROM staging.stg_allocations__allocations
),

unplaced AS (
    SELECT r.urn, r.academic_year
    FROM reporting AS r
    ANTI JOIN intermediate.int_school_groups_resolved AS m
        ON m.urn = r.urn AND m.academic_year = r.academic_year
)

SELECT urn, academic_year, group_id, la_code
FROM intermediate.int_school_groups_resolved
UNION ALL
SELECT u.urn, u.academic_year, NULL AS group_id, s.la_code
FROM unplaced AS u
LEFT JOIN ref.schools AS s ON s.urn = u.urn
