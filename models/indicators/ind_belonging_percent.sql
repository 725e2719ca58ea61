-- id: belonging_percent
-- title: Pupils who feel they belong
-- kind: person
-- measures: the share of pupils answering the survey whose answers about belonging (feeling part of the school, having an adult to go to) average 'agree' or better.
-- why: Inclusion is about children being part of their school, not only being on its roll. Children with SEND often tell us they feel left out; this asks them directly.
-- read: Higher is better. Only pupils who answered at least one belonging question are counted, and pupils who choose to answer may not be typical of all pupils, so small differences between groups may not mean much: look at the range shown around each figure.
-- source: pupil and parent/carer voice survey (pupil respondents, "belonging" questions)
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
    AND domain = 'belonging'
    AND answered_items >= 1
GROUP BY la_code, group_id, academic_year, sen_provision
