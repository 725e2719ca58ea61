-- Outcome records of the current submission per unit (source, urn, academic_year), typed and
-- pseudonymised at ingest. `urn` is the school's URN now (academy conversions and mergers
-- followed through GIAS links), so its history continues; `reported_urn` is the URN the
-- school submitted under.
SELECT
    r.submission_id,
    r.row_number,
    coalesce(c.current_urn, r.urn) AS urn,
    r.urn AS reported_urn,
    r.academic_year,
    r.pupil_id,
    r.year_group,
    r.sen_provision,
    r.primary_need,
    r.first_identified_year_group,
    r.sessions_possible,
    r.sessions_attended,
    r.base_sessions,
    r.suspensions,
    r.permanently_excluded,
    r.plan_targets_set,
    r.plan_targets_met,
    r.plan_reviewed_on,
    r.left_roll,
    r.leaving_reason,
    r.destination,
    r.destination_sustained,
    r.met_expected_standard
FROM raw.outcomes AS r
JOIN audit.submission_units AS u
    ON u.source = 'outcomes'
    AND u.submission_id = r.submission_id
    AND u.urn = r.urn
    AND u.academic_year = r.academic_year
    AND u.is_current
LEFT JOIN ref.urn_current AS c ON c.urn = r.urn
