-- id: expected_standard_percent
-- title: Pupils meeting the expected standard
-- kind: person
-- measures: of the pupils with a result in the latest statutory assessment (years 6 and 11), the share who met the expected standard.
-- why: Attainment still matters: inclusion should not mean lower expectations for children with SEND.
-- read: Higher is better, but it is one measure among many and says little about progress from a child's starting point; some children with SEND make great progress without meeting this standard.
-- source: outcomes (pupil records exported from school management information systems)
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    count(*) FILTER (WHERE met_expected_standard)::DOUBLE AS numerator,
    count(*)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
WHERE met_expected_standard IS NOT NULL
GROUP BY la_code, group_id, academic_year, sen_provision
