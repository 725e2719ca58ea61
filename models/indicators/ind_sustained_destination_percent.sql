-- id: sustained_destination_percent
-- title: Young people in sustained education, training or work
-- kind: person
-- measures: of the pupils in year 11 or above who left at the end of their phase, the share who went on to education, an apprenticeship, employment or training and stayed there.
-- why: What happens after school is the test of whether school prepared a young person for adult life.
-- read: Higher is better. Destinations are only known for leavers schools could follow up, and numbers per group are small, so many figures are hidden or have wide ranges.
-- source: outcomes (pupil records exported from school management information systems)
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    count(*) FILTER (WHERE destination IN ('education', 'apprenticeship', 'employment', 'training') AND destination_sustained)::DOUBLE AS numerator,
    count(*)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
WHERE left_roll AND leaving_reason = 'end_of_phase' AND TRY_CAST(year_group AS INTEGER) >= 11
GROUP BY la_code, group_id, academic_year, sen_provision
