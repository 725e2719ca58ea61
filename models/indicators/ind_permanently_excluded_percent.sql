-- id: permanently_excluded_percent
-- title: Pupils permanently excluded
-- kind: person
-- measures: the share of pupils who were permanently excluded from the school in the year.
-- why: Permanent exclusion is the most serious sanction a school can give; children with SEND are excluded far more often than other children.
-- read: Lower is better, but low exclusions are not the same as inclusion: a child can leave a school in other ways (see unexplained leavers). Numbers are small, so many figures are hidden to protect children.
-- source: outcomes (pupil records exported from school management information systems)
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    count(*) FILTER (WHERE permanently_excluded)::DOUBLE AS numerator,
    count(*)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
GROUP BY la_code, group_id, academic_year, sen_provision
