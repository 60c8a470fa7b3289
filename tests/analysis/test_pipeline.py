import json
from datetime import date

from callfleet.analysis import analyze
from callfleet.campaigns.settings import CampaignSettings, Disposition
from callfleet.conversation import CollectedAnswer, ConversationResult, Role, Turn
from callfleet.telephony.base import AnsweredBy, EndedBy

SETTINGS = CampaignSettings.model_validate(
    {
        "name": "Claim status follow-up",
        "agent": {"verification_keys": ["member_id", "date_of_birth"]},
        "post_call": {
            "fields": [
                {
                    "name": "claim_status",
                    "type": "enum",
                    "values": ["paid", "denied", "pending"],
                    "required": True,
                },
                {"name": "paid_amount", "type": "money"},
                {"name": "paid_on", "type": "date"},
                {"name": "reference_number", "type": "identifier", "required": True},
            ]
        },
    }
)
INPUT = {
    "patient_name": "Ann Lee",
    "member_id": "XJ4471",
    "date_of_birth": "1980-02-03",
}


def good_call() -> ConversationResult:
    turns = [
        Turn(Role.CALLEE, "Acme insurance, this is Dana, how can I help?"),
        Turn(Role.AGENT, "Hello, this is Alex calling about a claim for Ann Lee."),
        Turn(Role.CALLEE, "Sure, can I have the member id and date of birth?"),
        Turn(Role.AGENT, "The member id is XJ4471, born February 3rd 1980."),
        Turn(Role.CALLEE, "Thanks, you're verified."),
        Turn(Role.AGENT, "What is the status of the claim?"),
        Turn(Role.CALLEE, "It was paid."),
        Turn(Role.AGENT, "How much was paid?"),
        Turn(Role.CALLEE, "one hundred twenty three dollars and fifty cents"),
        Turn(Role.AGENT, "When was it paid?"),
        Turn(Role.CALLEE, "on the fourth of march"),
        Turn(Role.AGENT, "Could you tell me the reference number?"),
        Turn(Role.CALLEE, "sure it's r e f nine nine one two"),
        Turn(Role.AGENT, "Thank you for your help. Goodbye."),
    ]
    return ConversationResult(
        disposition=Disposition.COMPLETED,
        turns=turns,
        answered_by=AnsweredBy.HUMAN,
        ended_by=EndedBy.AGENT,
        duration_s=95,
        talk_s=90,
        verified=True,
        verified_at_turn=4,
        answers=[
            CollectedAnswer("claim_status", "It was paid.", 6),
            CollectedAnswer("paid_amount", turns[8].content, 8),
            CollectedAnswer("paid_on", turns[10].content, 10),
            CollectedAnswer("reference_number", turns[12].content, 12),
        ],
    )


def test_a_good_call_retrieves_everything() -> None:
    analysis = analyze(good_call(), SETTINGS, INPUT, call_date=date(2026, 3, 10))

    assert analysis.post_call_data == {
        "claim_status": "paid",
        "paid_amount": 123.5,
        "paid_on": "2026-03-04",
        "reference_number": "REF9912",
    }
    assert analysis.field_details["reference_number"]["turn"] == 12
    assert (
        analysis.field_details["reference_number"]["raw"] == "r e f nine nine one two"
    )
    assert analysis.category == "GOOD"
    assert analysis.resolution == "retrieved"
    assert analysis.outcome == "data_retrieved"
    assert analysis.disposition == "completed"
    assert analysis.qa["score"] == 100.0
    assert analysis.qa["review_required"] is False
    assert "claim_status = paid" in analysis.summary
    json.dumps(analysis.to_dict())


def test_missing_required_field_makes_the_attempt_incomplete() -> None:
    result = good_call()
    result.answers = [a for a in result.answers if a.field != "reference_number"]
    result.turns[12] = Turn(Role.CALLEE, "I don't have one yet")

    analysis = analyze(result, SETTINGS, INPUT, call_date=date(2026, 3, 10))

    assert "reference_number" not in analysis.post_call_data
    assert analysis.disposition == "incomplete"
    assert analysis.category == "NOT_ALL_DATA_POINTS_RETRIEVED"
    assert analysis.resolution == "not_retrieved"
    required = next(
        c for c in analysis.qa["criteria"] if c["name"] == "required_fields_collected"
    )
    assert required["passed"] is False
    assert required["score"] == 0.5
    assert "reference_number" in required["reason"]


def test_volunteered_value_is_found_in_the_transcript() -> None:
    result = good_call()
    result.answers = [a for a in result.answers if a.field != "reference_number"]
    result.turns[6] = Turn(Role.CALLEE, "It was paid, reference number ref 9912.")

    analysis = analyze(result, SETTINGS, INPUT, call_date=date(2026, 3, 10))

    assert analysis.post_call_data["reference_number"] == "REF9912"
    detail = analysis.field_details["reference_number"]
    assert detail["source"] == "transcript"
    assert detail["turn"] == 6


def test_later_answer_corrects_an_earlier_one() -> None:
    result = good_call()
    result.turns.insert(13, Turn(Role.CALLEE, "sorry, it's ref 9913"))
    result.answers.append(
        CollectedAnswer("reference_number", "sorry, it's ref 9913", 13)
    )

    analysis = analyze(result, SETTINGS, INPUT, call_date=date(2026, 3, 10))

    assert analysis.post_call_data["reference_number"] == "REF9913"


def test_voicemail_has_no_qa_score() -> None:
    result = ConversationResult(
        disposition=Disposition.VOICEMAIL,
        turns=[
            Turn(Role.CALLEE, "Leave a message after the beep."),
            Turn(Role.AGENT, "Hello, please call us back."),
        ],
        answered_by=AnsweredBy.MACHINE,
        voicemail_left=True,
        ended_by=EndedBy.AGENT,
    )

    analysis = analyze(result, SETTINGS, INPUT)

    assert analysis.category == "VOICEMAIL"
    assert analysis.outcome == "voicemail_left"
    assert analysis.disposition == "voicemail"
    assert analysis.qa["score"] is None
    assert analysis.qa["review_required"] is False
    assert all(c["passed"] is None for c in analysis.qa["criteria"])
    assert analysis.post_call_data == {}


def test_disclosure_before_verification_sends_the_target_to_review() -> None:
    result = good_call()
    result.turns[1] = Turn(Role.AGENT, "Hi, calling for member XJ4471 about a claim.")

    analysis = analyze(result, SETTINGS, INPUT, call_date=date(2026, 3, 10))

    criterion = next(
        c for c in analysis.qa["criteria"] if c["name"] == "no_disclosure_to_unverified"
    )
    assert criterion["passed"] is False
    assert criterion["evidence"]["turn"] == 1
    assert "member_id" in criterion["reason"]
    # weights 1 + 3 + 3 + 3 + 1: losing a weight-3 check costs 3/11
    assert analysis.qa["score"] == round(100 * 8 / 11, 1)
    assert analysis.qa["review_required"] is False
    assert analysis.qa["threshold"] == 70


def test_one_answer_given_for_several_free_text_fields_is_shared() -> None:
    settings = CampaignSettings.model_validate(
        {
            "name": "Vehicle",
            "post_call": {
                "fields": [
                    {"name": "car_make", "question": "What is the make of the car?"},
                    {"name": "car_model", "question": "And the model?"},
                    {"name": "car_year", "type": "integer", "question": "What year?"},
                ]
            },
        }
    )
    said = "a 2015 bmw x 5"
    turns = [
        Turn(Role.AGENT, "What is the make of the car?"),
        Turn(Role.CALLEE, said),
        Turn(Role.AGENT, "And the model?"),
        Turn(Role.CALLEE, said),
        Turn(Role.AGENT, "What year?"),
        Turn(Role.CALLEE, said),
    ]
    result = ConversationResult(
        disposition=Disposition.COMPLETED,
        turns=turns,
        answered_by=AnsweredBy.HUMAN,
        answers=[
            CollectedAnswer("car_make", said, 1),
            CollectedAnswer("car_model", said, 3),
            CollectedAnswer("car_year", said, 5),
        ],
    )

    data = analyze(result, settings, {}, call_date=date(2026, 3, 10)).post_call_data

    assert data["car_year"] == 2015
    assert data["car_make"].lower() == "bmw"
    assert data["car_model"].lower() == "x 5"


def test_values_the_campaign_scripts_are_no_disclosure() -> None:
    scripted = SETTINGS.model_copy(
        update={
            "agent": SETTINGS.agent.model_copy(
                update={
                    "first_message": "Hello, calling about claim {{ claim_number }}.",
                    "verification_keys": None,
                }
            )
        }
    )
    result = good_call()
    result.turns[1] = Turn(Role.AGENT, "Hello, calling about claim CLM-2291.")
    inputs = {**INPUT, "claim_number": "CLM-2291"}

    qa = analyze(result, scripted, inputs, call_date=date(2026, 3, 10)).qa

    check = next(
        c for c in qa["criteria"] if c["name"] == "no_disclosure_to_unverified"
    )
    assert check["passed"] is True

    result.turns[1] = Turn(Role.AGENT, "Hello, member XJ4471, about your claim.")
    qa = analyze(result, scripted, inputs, call_date=date(2026, 3, 10)).qa
    check = next(
        c for c in qa["criteria"] if c["name"] == "no_disclosure_to_unverified"
    )
    assert check["passed"] is False
