"""The shared vocabulary of rule names (row level) and refusal kinds (file level).

`audit.quarantine.rule` and `audit.submission_log.refusal_kind` hold these names; the
synthetic data generator's fault manifest uses the same ones, so a fault it injects can be
matched to the reason the pipeline gives. Each name has a sentence a school business
manager can act on; the Dagster metadata and the audit bundle show it next to the name.
"""

from __future__ import annotations

RULES: dict[str, str] = {
    # values that cannot be read as their type
    "required_value": "a value is required here",
    "integer_format": "not a whole number",
    "date_format": "not a date (use YYYY-MM-DD or DD/MM/YYYY)",
    "boolean_value": "not Y/N, Yes/No, true/false or 1/0",
    "money_format": "not an amount in pounds (e.g. 1234.56 or £1,234.56)",
    "extra_values": "the row has more values than the header has columns",
    # every source
    "urn_not_in_register": "the URN is not a school in the register",
    "academic_year_format": "the academic year is not YYYY/YY with consecutive years",
    # spend
    "term_code": "the term is not autumn, spring or summer",
    "category_code": "not a spend category code",
    "amount_range": "the amount is not between 0 and 1,000,000",
    "amount_decimals": "the amount has more than 2 decimal places",
    "description_length": "the description is longer than 500 characters",
    "other_without_description": "category 'other' needs a description",
    # allocations
    "allocation_range": "the allocation is not between 0 and 5,000,000",
    # outcomes
    "upn_check_letter": "not a 13-character UPN with a valid check letter",
    "year_group_code": "not a year group code (N1, N2, R, 1-14)",
    "sen_provision_code": "not a SEN provision code (N, K, E)",
    "primary_need_code": "not a census primary need code",
    "primary_need_required": "primary need is required for SEN support (K) and EHC plans (E)",
    "primary_need_not_allowed": "primary need must be empty when SEN provision is N",
    "first_identified_required": "first identified year group is required for K and E",
    "first_identified_not_allowed": "first identified year group must be empty for N",
    "sessions_possible_range": "sessions possible is not between 0 and 420",
    "sessions_attended_range": "sessions attended is negative",
    "attended_exceeds_possible": "sessions attended is more than sessions possible",
    "base_sessions_range": "base sessions is negative",
    "base_exceeds_attended": "base sessions is more than sessions attended",
    "suspensions_range": "suspensions is not between 0 and 50",
    "plan_targets_range": "plan targets is negative",
    "plan_targets_not_allowed": "plan targets must be empty when SEN provision is N",
    "plan_targets_met_exceeds_set": "more plan targets met than set (or met without set)",
    "plan_reviewed_after_year": "the plan review date is after the end of the academic year",
    "plan_reviewed_in_future": "the plan review date is in the future",
    "leaving_reason_code": "not a leaving reason code",
    "leaving_reason_required": "a leaving reason is required when the pupil left the roll",
    "leaving_reason_not_allowed": "a leaving reason must be empty when the pupil did not leave",
    "destination_code": "not a destination code",
    "destination_not_allowed": "a destination is only for end-of-phase leavers in year 11+",
    "destination_sustained_without_destination": "destination sustained given without a "
    "destination",
    "duplicate_pupil": "the same pupil appears more than once for this school and year",
    # voice
    "respondent_id_length": "the respondent id is not 1-64 characters",
    "respondent_id_is_upn": "the respondent id is a pupil's UPN (not anonymous)",
    "respondent_type_code": "the respondent type is not pupil or parent_carer",
    "question_code_unknown": "not a question code from the question bank",
    "question_wrong_respondent_type": "the question is not asked of this respondent type",
    "response_range": "the response is not 1-5",
    "collected_on_outside_year": "the collection date is outside the academic year",
    "collected_on_in_future": "the collection date is in the future",
}

REFUSAL_KINDS: dict[str, str] = {
    "unreadable_file": "the file could not be read as CSV or Excel",
    "wrong_extension": "the file is not what its name says, or not .csv/.xlsx",
    "empty_file": "the file has no header row",
    "missing_column": "a required column is missing",
    "duplicate_column": "a column appears twice",
    "encoding": "the text is not UTF-8 or Windows-1252",
    "too_large": "the workbook unpacks to more than the size limit",
    "unsafe_path": "not a regular file in the landing folder (a link, folder or device)",
}


class FileRefused(Exception):
    """A whole file cannot be loaded; `message` tells the sender what to do."""

    def __init__(self, kind: str, message: str) -> None:
        assert kind in REFUSAL_KINDS, kind
        super().__init__(message)
        self.kind = kind
        self.message = message
