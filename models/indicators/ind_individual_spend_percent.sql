-- id: individual_spend_percent
-- title: Spend on support for individual pupils
-- kind: spend
-- measures: the share of reported Inclusive Mainstream Fund spend that went on support for individual pupils: one-to-one adults, specialist services bought per pupil and individual equipment.
-- why: Individual support can be exactly what a child needs, but a fund spent mostly this way may not change how the school works for everyone.
-- read: Context, not a score: groups are not ranked on it. It depends on how schools chose categories for their spending.
-- source: spend returns (category layer from the spend categories reference table)
SELECT
    la_code,
    group_id,
    academic_year,
    coalesce(sum(amount_gbp) FILTER (WHERE layer = 'individual'), 0)::DOUBLE AS numerator,
    sum(amount_gbp)::DOUBLE AS denominator
FROM marts.fct_spend_lines
WHERE group_id IS NOT NULL
GROUP BY la_code, group_id, academic_year
