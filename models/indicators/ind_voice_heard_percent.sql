-- id: voice_heard_percent
-- title: Pupils who feel listened to
-- kind: person
-- measures: the share of pupils answering the survey whose answers about being listened to (asked what helps them learn, ideas about their support heard) average 'agree' or better.
-- why: Children have a right to a say in their own support, and support that listens to them works better.
-- read: Higher is better. It shows whether pupils feel heard, not whether every request was granted; only pupils who answered at least one of these questions are counted.
-- source: pupil and parent/carer voice survey (pupil respondents, "voice_heard" questions)
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
    AND domain = 'voice_heard'
    AND answered_items >= 1
GROUP BY la_code, group_id, academic_year, sen_provision
