-- description: One row per pupil per school per academic year (the current submission's
--   outcome record), placed in the partnership group and local authority of its school in
--   that year. Keeps submission_id and row_number so any published cell can be traced
--   back to the rows behind it.
SELECT
    d.la_code,
    d.group_id,
    o.*
FROM staging.stg_outcomes__pupil_years AS o
LEFT JOIN marts.dim_school_years AS d
    ON d.urn = o.urn
    AND d.academic_year = o.academic_year
