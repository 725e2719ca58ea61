-- id: spend_per_pupil_gbp
-- title: Inclusive Mainstream Fund spend per pupil
-- kind: spend
-- measures: the Inclusive Mainstream Fund money schools reported spending, divided by the number of pupils on their rolls (pupil records received).
-- why: Spend is context for the outcomes, not an outcome: it helps a group see what was put in beside what changed for children.
-- read: Neither high nor low is good or bad in itself, and groups are not ranked on it. Schools that did not send spend returns or pupil records make it less complete; check coverage.
-- source: spend returns and outcomes
WITH spend AS (
    SELECT la_code, group_id, academic_year, sum(amount_gbp)::DOUBLE AS spend_gbp
    FROM marts.fct_spend_lines
    WHERE group_id IS NOT NULL
    GROUP BY la_code, group_id, academic_year
),

pupils AS (
    SELECT la_code, group_id, academic_year, count(*)::DOUBLE AS pupils
    FROM marts.fct_pupil_years
    WHERE group_id IS NOT NULL
    GROUP BY la_code, group_id, academic_year
)

SELECT
    la_code,
    group_id,
    academic_year,
    coalesce(s.spend_gbp, 0) AS numerator,
    coalesce(p.pupils, 0) AS denominator
FROM spend AS s
FULL JOIN pupils AS p USING (la_code, group_id, academic_year)
