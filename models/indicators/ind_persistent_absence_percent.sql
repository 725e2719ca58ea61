-- id: persistent_absence_percent
-- title: Pupils persistently absent
-- kind: person
-- measures: the share of pupils who missed 10% or more of the sessions they could have attended (attended fewer than 90% of possible sessions).
-- why: Missing school adds up: persistently absent children fall behind and lose touch with friends, and absence is often a sign that a child's needs are not being met.
-- read: Lower is better. Absence has many causes, including illness and medical appointments that children with SEND have more of, so a gap between groups is a question to ask, not proof of poor support. Pupils with no possible sessions are left out.
-- source: outcomes (pupil records exported from school management information systems)
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    -- Integer arithmetic, so a pupil at exactly 90% is never misplaced by rounding.
    count(*) FILTER (WHERE 10 * sessions_attended < 9 * sessions_possible)::DOUBLE AS numerator,
    count(*)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
WHERE sessions_possible > 0
GROUP BY la_code, group_id, academic_year, sen_provision
