-- id: participation_percent
-- title: Pupils who take part like everyone else
-- kind: person
-- measures: the share of pupils answering the survey whose answers about taking part (learning with their class, clubs and trips, not missing out) average 'agree' or better.
-- why: Being included means joining in lessons, clubs and trips alongside classmates, not being taught apart or left behind when others go.
-- read: Higher is better. It is pupils' own view of whether they take part; read it beside the time spent in mainstream lessons, which measures one part of the same thing from school records.
-- source: pupil and parent/carer voice survey (pupil respondents, "participation" questions)
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    count(*) FILTER (WHERE is_positive)::DOUBLE AS numerator,
    count(*)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_respondent_domains
WHERE respondent_type = 'pupil'
    AND domain = 'participation'
    AND answered_items >= 1
GROUP BY la_code, group_id, academic_year, sen_provision
