-- id: systemic_spend_percent
-- title: Spend on whole-school inclusion
-- kind: spend
-- measures: the share of reported Inclusive Mainstream Fund spend that went on whole-school (systemic) work: coaching and modelling, staff development, specialist collaboration, inclusive environments, early identification and family partnership.
-- why: The fund is meant to make mainstream schools more inclusive for every child, not only to buy support one child at a time.
-- read: Context, not a score: groups are not ranked on it. It depends on how schools chose categories for their spending.
-- source: spend returns (category layer from the spend categories reference table)
SELECT
    la_code,
    group_id,
    academic_year,
    coalesce(sum(amount_gbp) FILTER (WHERE layer = 'systemic'), 0)::DOUBLE AS numerator,
    sum(amount_gbp)::DOUBLE AS denominator
FROM marts.fct_spend_lines
WHERE group_id IS NOT NULL
GROUP BY la_code, group_id, academic_year
