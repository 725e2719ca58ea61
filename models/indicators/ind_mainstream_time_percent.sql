-- id: mainstream_time_percent
-- title: Time in mainstream lessons for inclusion-base pupils
-- kind: weighted
-- measures: for pupils who use an inclusion base, the share of the sessions they attended that they spent in mainstream lessons rather than mainly in the base.
-- why: A child in an inclusion base should be in mainstream lessons with their classmates most of the time; the base is support, not a separate school.
-- read: Higher is better. Only pupils who use a base are counted and it is weighted by sessions attended; it relies on schools recording base time consistently. No range is shown because it is not a count of children.
-- source: outcomes (pupil records exported from school management information systems)
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    sum(sessions_attended - base_sessions)::DOUBLE AS numerator,
    sum(sessions_attended)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
WHERE base_sessions > 0
GROUP BY la_code, group_id, academic_year, sen_provision
