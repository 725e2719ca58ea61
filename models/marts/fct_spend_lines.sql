-- description: One row per line of Inclusive Mainstream Fund spend (current submissions),
--   with its category's layer (systemic, targeted, individual, other) and the school's
--   group and local authority in that year. Keeps submission_id and row_number.
SELECT
    d.la_code,
    d.group_id,
    s.*,
    c.layer
FROM staging.stg_spend__lines AS s
LEFT JOIN ref.spend_categories AS c ON c.code = s.category
LEFT JOIN marts.dim_school_years AS d
    ON d.urn = s.urn
    AND d.academic_year = s.academic_year
