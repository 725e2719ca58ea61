-- id: base_majority_percent
-- title: Inclusion-base pupils taught mostly in the base
-- kind: person
-- measures: of the pupils who spend time in an inclusion base, the share who spent more than half of the sessions they attended mainly in the base rather than in mainstream lessons.
-- why: An inclusion base should help a child take part in mainstream school, not become a separate school within the school; most of a child's time should be in mainstream lessons.
-- read: Lower is better. Only pupils who use a base are counted; some children need more time in a base for a while, so look at the trend and at mainstream time.
-- source: outcomes (pupil records exported from school management information systems)
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    count(*) FILTER (WHERE 2 * base_sessions > sessions_attended)::DOUBLE AS numerator,
    count(*)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
WHERE base_sessions > 0
GROUP BY la_code, group_id, academic_year, sen_provision
