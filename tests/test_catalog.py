"""The indicator catalogue: one plain-language entry per indicator, read from its SQL."""

from __future__ import annotations

from pipelines.catalog import indicator_catalog, parse_header

SPEC_INDICATORS = {
    # indicators.md, person-level proportions
    "belonging_percent", "wellbeing_percent", "safety_percent", "participation_percent",
    "voice_heard_percent", "family_confidence_percent", "persistent_absence_percent",
    "suspended_percent", "permanently_excluded_percent", "unexplained_leaver_percent",
    "base_majority_percent", "plan_reviewed_percent", "early_identified_percent",
    "sustained_destination_percent", "expected_standard_percent",
    # session- and target-weighted rates
    "attendance_percent", "mainstream_time_percent", "plan_targets_met_percent",
    # spend context and coverage
    "spend_per_pupil_gbp", "systemic_spend_percent", "individual_spend_percent",
    "allocation_spent_percent", "schools_reporting_percent",
}
# EES labels are at most 100 characters; the longest label adds 38 to the title.
MAX_TITLE = 100 - len(": gap to No SEN provision (pp)") - 8


def test_every_indicator_of_the_spec_is_defined_once_with_its_explanation() -> None:
    catalog = indicator_catalog()
    ids = [meta.id for meta in catalog]
    assert sorted(ids) == sorted(SPEC_INDICATORS)
    for meta in catalog:
        assert meta.path.name == f"ind_{meta.id}.sql"
        assert meta.kind in {"person", "weighted", "spend", "coverage"}
        for text in (meta.title, meta.measures, meta.why, meta.read):
            assert text.strip(), f"{meta.id} lacks part of its explanation"
        assert len(meta.title) <= MAX_TITLE, f"{meta.id}: title too long for EES labels"


def test_header_continuation_lines_join_the_previous_value() -> None:
    sql = "-- id: x\n-- why: first part\n--   and second part\n-- read: r\nSELECT 1\n-- id: y\n"
    assert parse_header(sql) == {"id": "x", "why": "first part and second part", "read": "r"}
