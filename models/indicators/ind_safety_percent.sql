-- id: safety_percent
-- title: Pupils who feel safe
-- kind: person
-- measures: the share of pupils answering the survey whose answers about feeling safe (feeling safe at school, adults sorting out unkindness) average 'agree' or better.
-- why: Children cannot learn or take part if they do not feel safe. Children with SEND are more often bullied than other children.
-- read: Higher is better. It reflects how safe pupils feel, which matters in itself, but it is not a count of incidents; a low figure is a reason to listen to pupils, not a verdict on a school.
-- source: pupil and parent/carer voice survey (pupil respondents, "safety" questions)
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
    AND domain = 'safety'
    AND answered_items >= 1
GROUP BY la_code, group_id, academic_year, sen_provision
