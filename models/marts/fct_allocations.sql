-- description: One row per school per year: what the local authority allocated from the
--   Inclusive Mainstream Fund, with the school's group and local authority in that year.
--   Keeps submission_id and row_number.
SELECT
    d.la_code,
    d.group_id,
    a.*
FROM staging.stg_allocations__allocations AS a
LEFT JOIN marts.dim_school_years AS d
    ON d.urn = a.urn
    AND d.academic_year = a.academic_year
