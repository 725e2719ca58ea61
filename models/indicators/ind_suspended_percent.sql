-- id: suspended_percent
-- title: Pupils suspended at least once
-- kind: person
-- measures: the share of pupils who were suspended (temporarily excluded) at least once in the year.
-- why: Suspensions take children out of learning and often fall hardest on children with SEND, whose behaviour may be an unmet need.
-- read: Lower is better, but a low figure is not the same as inclusion: children can also be sent home informally, put on part-time timetables or moved off roll, which this does not count. Read it beside unexplained leavers and attendance.
-- source: outcomes (pupil records exported from school management information systems)
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    count(*) FILTER (WHERE suspensions >= 1)::DOUBLE AS numerator,
    count(*)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
GROUP BY la_code, group_id, academic_year, sen_provision
