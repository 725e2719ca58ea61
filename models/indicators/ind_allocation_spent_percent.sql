-- id: allocation_spent_percent
-- title: Share of allocation spent
-- kind: spend
-- measures: reported Inclusive Mainstream Fund spend as a share of what the local authority allocated to the group's schools for the year.
-- why: It shows whether the money reached children in the year it was meant for, as context beside the outcomes.
-- read: Context, not a score: groups are not ranked on it. Spend returns come in during the year, so it is low until the summer term's returns arrive; schools without returns make it look lower.
-- source: spend returns and allocations
WITH spend AS (
    SELECT la_code, group_id, academic_year, sum(amount_gbp)::DOUBLE AS spend_gbp
    FROM marts.fct_spend_lines
    WHERE group_id IS NOT NULL
    GROUP BY la_code, group_id, academic_year
),

allocated AS (
    SELECT la_code, group_id, academic_year, sum(allocation_gbp)::DOUBLE AS allocation_gbp
    FROM marts.fct_allocations
    WHERE group_id IS NOT NULL
    GROUP BY la_code, group_id, academic_year
)

SELECT
    la_code,
    group_id,
    academic_year,
    coalesce(s.spend_gbp, 0) AS numerator,
    coalesce(a.allocation_gbp, 0) AS denominator
FROM spend AS s
FULL JOIN allocated AS a USING (la_code, group_id, academic_year)
