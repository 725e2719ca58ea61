-- id: attendance_percent
-- title: Attendance
-- kind: weighted
-- measures: the share of all the sessions (half-days) pupils could have attended that they did attend.
-- why: Children learn and keep friendships by being in school; poor attendance is often the first sign that a child's needs are not being met.
-- read: Higher is better. It counts sessions, so pupils with more possible sessions weigh more. Authorised absence for illness or appointments is included, which affects children with medical needs more; no range is shown because it is not a count of children.
-- source: outcomes (pupil records exported from school management information systems)
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    sum(sessions_attended)::DOUBLE AS numerator,
    sum(sessions_possible)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
WHERE sessions_possible > 0
GROUP BY la_code, group_id, academic_year, sen_provision
