-- id: family_confidence_percent
-- title: Families confident in the school
-- kind: person
-- measures: the share of parents and carers answering the survey whose answers about the school (meeting their child's needs, planning support with them, not having to fight for help) average 'agree' or better.
-- why: Families must be able to trust that their child's needs are met in a mainstream school; when they cannot, many look elsewhere or give up on school.
-- read: Higher is better. Families who answer surveys are not always typical of all families, and one family's experience counts once however many questions they answered; use the range shown around each figure.
-- source: pupil and parent/carer voice survey (parent_carer respondents, "family_confidence" questions)
SELECT
    la_code,
    group_id,
    academic_year,
    sen_provision,
    count(*) FILTER (WHERE is_positive)::DOUBLE AS numerator,
    count(*)::DOUBLE AS denominator,
    count(*) AS pupils
FROM marts.fct_respondent_domains
WHERE respondent_type = 'parent_carer'
    AND domain = 'family_confidence'
    AND answered_items >= 1
GROUP BY la_code, group_id, academic_year, sen_provision
