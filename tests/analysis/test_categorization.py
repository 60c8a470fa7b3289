import json
from pathlib import Path

import pytest

from callfleet.analysis import categorization as cat
from callfleet.analysis.categorization import (
    Outcome,
    PatientCallCategory,
    PayorCallCategory,
    Resolution,
    categorize,
    refine_disposition,
)
from callfleet.campaigns.settings import Disposition, PostCallField
from callfleet.conversation import CollectedAnswer, ConversationResult, Role, Turn
from callfleet.telephony.base import AnsweredBy, EndedBy

SPEC = Path(__file__).parents[3] / "shared" / "reference" / "prosper-voice-openapi.json"
FIELDS = [
    PostCallField(name="claim_status", required=True),
    PostCallField(name="note"),
]


@pytest.mark.skipif(not SPEC.exists(), reason="Prosper spec not available")
@pytest.mark.parametrize(
    ("schema", "enum"),
    [
        ("PayorCallCategory", cat.PayorCallCategory),
        ("PatientCallCategory", cat.PatientCallCategory),
        ("IVRLoopSubCategory", cat.IVRLoopSubCategory),
        ("NotFoundSubCategory", cat.NotFoundSubCategory),
        ("TransferSubCategory", cat.TransferSubCategory),
        ("ServiceNotAvailableSubCategory", cat.ServiceNotAvailableSubCategory),
        ("InputDataIssueSubCategory", cat.InputDataIssueSubCategory),
        ("HumanOnlySubcategory", cat.HumanOnlySubcategory),
        ("CampaignTargetPayorResolution", cat.Resolution),
    ],
)
def test_enums_match_the_prosper_spec(schema: str, enum: type) -> None:
    spec = json.loads(SPEC.read_text())
    assert [e.value for e in enum] == spec["components"]["schemas"][schema]["enum"]


def call(disposition: Disposition, *callee: str, **kwargs) -> ConversationResult:
    turns = [Turn(Role.AGENT, "Hello, this is Alex.")]
    turns += [Turn(Role.CALLEE, text) for text in callee]
    kwargs.setdefault("answered_by", AnsweredBy.HUMAN)
    return ConversationResult(disposition=disposition, turns=turns, **kwargs)


@pytest.mark.parametrize(
    ("result", "category", "subcategory", "outcome"),
    [
        (
            call(Disposition.NO_ANSWER, answered_by=None),
            "NO_RESPONSE",
            None,
            "no_answer",
        ),
        (call(Disposition.BUSY, answered_by=None), "NO_RESPONSE", None, "busy"),
        (call(Disposition.DECLINED, answered_by=None), "NO_RESPONSE", None, "declined"),
        (
            call(Disposition.INVALID_NUMBER, answered_by=None),
            "SERVICE_NOT_AVAILABLE",
            "PHONE_NUMBER_NOT_AVAILABLE",
            "invalid_number",
        ),
        (
            call(Disposition.CAPACITY, answered_by=None),
            "SERVICE_NOT_AVAILABLE",
            "CLOGGED_SERVICE",
            "capacity",
        ),
        (
            call(Disposition.FAILED, answered_by=None),
            "SERVICE_NOT_AVAILABLE",
            "TECHNICAL_ISSUE",
            "failed",
        ),
        (
            call(Disposition.VOICEMAIL, answered_by=AnsweredBy.MACHINE),
            "VOICEMAIL",
            None,
            "voicemail",
        ),
        (
            call(Disposition.DO_NOT_CALL, "Take me off your list", dnc_requested=True),
            "DNC_REQUESTED",
            None,
            "dnc_requested",
        ),
        (
            call(Disposition.WRONG_NUMBER, "No Ann here", wrong_number=True),
            "WRONG_PHONE_NUMBER",
            None,
            "wrong_number",
        ),
        (
            call(Disposition.TRANSFERRED, "Let me transfer you", transferred=True),
            "TRANSFER",
            "NATURAL_TRANSFER",
            "transferred",
        ),
        (
            call(Disposition.AFTER_HOURS, "We are closed", after_hours=True),
            "AFTER_HOURS",
            None,
            "after_hours",
        ),
        (
            call(
                Disposition.COMPLETED,
                "For claims press 1",
                answered_by=AnsweredBy.IVR,
                hold_s=900,
            ),
            "IVR_LOOP",
            "LONG_WAITING_PERIOD",
            "ivr_loop",
        ),
        (
            call(
                Disposition.COMPLETED, "For claims press 1", answered_by=AnsweredBy.IVR
            ),
            "IVR_LOOP",
            "BAD_INTERACTION_WITH_IVR",
            "ivr_loop",
        ),
        (
            call(Disposition.COMPLETED, "I only talk to a real person"),
            "HUMAN_ONLY",
            "STARTING_CALL",
            "human_only",
        ),
        (
            call(Disposition.COMPLETED, "That date of birth doesn't match our records"),
            "INPUT_DATA_ISSUE",
            "INCORRECT_INFORMATION",
            "verification_failed",
        ),
        (
            call(Disposition.COMPLETED, "We need the member's authorization first"),
            "MEMBER_CONSENT_REQUIRED",
            None,
            "consent_required",
        ),
        (
            call(Disposition.COMPLETED, "Sorry, no record of that member"),
            "NOT_FOUND",
            "MEMBER",
            "not_found",
        ),
        (
            call(Disposition.COMPLETED, "uh huh", ended_by=EndedBy.CALLEE),
            "DISCONNECTED",
            None,
            "disconnected",
        ),
        (
            call(Disposition.COMPLETED, "uh huh", ended_by=EndedBy.AGENT),
            "NOT_ALL_DATA_POINTS_RETRIEVED",
            None,
            "data_missing",
        ),
    ],
)
def test_unsuccessful_attempts(
    result: ConversationResult, category: str, subcategory: str | None, outcome: str
) -> None:
    got = categorize(result, FIELDS, {})
    assert (got.category, got.subcategory, got.outcome) == (
        category,
        subcategory,
        outcome,
    )
    assert got.resolution is Resolution.NOT_RETRIEVED


def test_all_required_fields_collected_is_good() -> None:
    result = call(Disposition.COMPLETED, "It was paid")
    got = categorize(result, FIELDS, {"claim_status": "paid"})
    assert got.category is PayorCallCategory.GOOD
    assert got.resolution is Resolution.RETRIEVED
    assert got.outcome is Outcome.DATA_RETRIEVED


def test_polite_words_do_not_spoil_a_good_call() -> None:
    result = call(Disposition.COMPLETED, "Without authorization? Sure, it was paid.")
    assert categorize(result, FIELDS, {"claim_status": "paid"}).category == "GOOD"


def test_dnc_is_a_patient_category() -> None:
    got = categorize(call(Disposition.DO_NOT_CALL, dnc_requested=True), FIELDS, {})
    assert got.category is PatientCallCategory.DNC_REQUESTED


def test_no_fields_means_nothing_retrieved() -> None:
    got = categorize(call(Disposition.COMPLETED, "hi"), [], {})
    assert got.category is PayorCallCategory.GOOD
    assert got.resolution is Resolution.NOT_RETRIEVED
    assert got.outcome is Outcome.COMPLETED


def test_refined_disposition() -> None:
    result = call(
        Disposition.COMPLETED,
        "It was paid",
        answers=[CollectedAnswer("claim_status", "It was paid", 1)],
    )
    assert refine_disposition(result, FIELDS, {}) is Disposition.INCOMPLETE
    assert (
        refine_disposition(result, FIELDS, {"claim_status": "paid"})
        is Disposition.COMPLETED
    )
    voicemail = call(Disposition.VOICEMAIL)
    assert refine_disposition(voicemail, FIELDS, {}) is Disposition.VOICEMAIL
