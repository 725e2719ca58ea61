-- id: early_identified_percent
-- title: Needs identified early
-- kind: person
-- measures: of the pupils in year 3 or above on SEN support or with an EHC plan, the share whose special educational need was first identified by the end of year 2 (nursery, reception, year 1 or year 2).
-- why: The earlier a need is spotted, the sooner a child gets the right help; late identification often means years of struggling first.
-- read: Higher is usually better, but some needs only show later or arise later, so it will never be 100%; compare groups with care.
-- source: outcomes (pupil records exported from school management information systems)
-- sen_only: true
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    count(*) FILTER (WHERE first_identified_year_group IN ('N1', 'N2', 'R', '1', '2'))::DOUBLE AS numerator,
    count(*)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
WHERE sen_provision IN ('K', 'E') AND TRY_CAST(year_group AS INTEGER) >= 3
GROUP BY la_code, group_id, academic_year, sen_provision
