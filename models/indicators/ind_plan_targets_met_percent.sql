-- id: plan_targets_met_percent
-- title: Support plan targets met
-- kind: weighted
-- measures: for pupils on SEN support or with an EHC plan, the share of the targets reviewed in their support plans this year that were met.
-- why: Plans exist to change things for a child; whether their targets are met is a direct, if imperfect, sign of progress.
-- read: Higher is better, but targets can be set too easily or too ambitiously, so read it beside the share of plans reviewed. Pupils with more targets weigh more. No range is shown because it is not a count of children.
-- source: outcomes (pupil records exported from school management information systems)
-- sen_only: true
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    sum(plan_targets_met)::DOUBLE AS numerator,
    sum(plan_targets_set)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_pupil_years
WHERE sen_provision IN ('K', 'E') AND plan_targets_set > 0 AND plan_targets_met IS NOT NULL
GROUP BY la_code, group_id, academic_year, sen_provision
