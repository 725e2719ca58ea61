-- Spend lines of the current submission per unit (source, urn, academic_year, term);
-- `urn` is the school's current URN (GIAS links followed), `reported_urn` as submitted.
SELECT
    r.submission_id,
    r.row_number,
    coalesce(c.current_urn, r.urn) AS urn,
    r.urn AS reported_urn,
    r.academic_year,
    r.term,
    r.category,
    r.amount_gbp,
    r.description
FROM raw.spend AS r
JOIN audit.submission_units AS u
    ON u.source = 'spend'
    AND u.submission_id = r.submission_id
    AND u.urn = r.urn
    AND u.academic_year = r.academic_year
    AND u.term = r.term
    AND u.is_current
LEFT JOIN ref.urn_current AS c ON c.urn = r.urn
