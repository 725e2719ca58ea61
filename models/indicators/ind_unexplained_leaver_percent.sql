-- id: unexplained_leaver_percent
-- title: Unexplained leavers (home education, AP, unknown)
-- kind: person
-- measures: the share of pupils who left the school's roll during the year for elective home education, alternative provision, another or an unknown reason (not a normal move or the end of a phase).
-- why: Some children leave school rolls without being formally excluded, sometimes under pressure; this shows moves that need an explanation.
-- read: Lower is usually better, but some families choose home education for good reasons; a rise is a question to ask the schools, not proof of off-rolling.
-- source: outcomes (pupil records exported from school management information systems)
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    count(*) FILTER (WHERE left_roll AND leaving_reason IN ('elective_home_education', 'alternative_provision', 'other', 'unknown'))::DOUBLE AS numerator,
    count(*)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
GROUP BY la_code, group_id, academic_year, sen_provision
