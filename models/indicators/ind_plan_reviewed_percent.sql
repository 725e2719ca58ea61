-- id: plan_reviewed_percent
-- title: Support plans reviewed this year
-- kind: person
-- measures: of the pupils on SEN support or with an EHC plan, the share whose support plan was reviewed during the academic year (1 September to 31 August).
-- why: A plan that is not reviewed cannot be honest about what is working; regular reviews with the child and family are how support improves.
-- read: Higher is better. It shows that a review happened, not how good it was; the plan targets met figure says more about what changed.
-- source: outcomes (pupil records exported from school management information systems)
-- sen_only: true
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    count(*) FILTER (WHERE plan_reviewed_on BETWEEN make_date(CAST(left(academic_year, 4) AS INTEGER), 9, 1) AND make_date(CAST(left(academic_year, 4) AS INTEGER) + 1, 8, 31))::DOUBLE AS numerator,
    count(*)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
WHERE sen_provision IN ('K', 'E')
GROUP BY la_code, group_id, academic_year, sen_provision
