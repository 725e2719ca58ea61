-- id: wellbeing_percent
-- title: Pupils who feel well at school
-- kind: person
-- measures: the share of pupils answering the survey whose answers about how they feel at school (happy most days, not often worried, able to get help when low) average 'agree' or better.
-- why: Good inclusion shows in how children feel day to day, not only in what they achieve. Worry and low mood are common reasons children with SEND stop attending.
-- read: Higher is better. It is how pupils describe their own feelings on the day of the survey, so it can move with events in the school year; compare like with like and use the range shown around each figure.
-- source: pupil and parent/carer voice survey (pupil respondents, "wellbeing" questions)
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
    AND domain = 'wellbeing'
    AND answered_items >= 1
GROUP BY la_code, group_id, academic_year, sen_provision
