from callfleet.analysis.qa import QAContext, combine, evaluate_criterion, score_call
from callfleet.campaigns.settings import (
    Disposition,
    PostCallField,
    QACriterion,
    QASettings,
)
from callfleet.conversation import CollectedAnswer, ConversationResult, Role, Turn
from callfleet.telephony.base import AnsweredBy

FIELDS = [PostCallField(name="status", required=True), PostCallField(name="amount")]


def ctx(collected=None, input_data=None, keys=None) -> QAContext:
    return QAContext(
        fields=FIELDS,
        collected=collected or {},
        input_data=input_data or {},
        verification_keys=keys,
    )


def conversation(*turns: tuple[Role, str], **kwargs) -> ConversationResult:
    kwargs.setdefault("disposition", Disposition.COMPLETED)
    kwargs.setdefault("answered_by", AnsweredBy.HUMAN)
    return ConversationResult(turns=[Turn(r, t) for r, t in turns], **kwargs)


def check(name: str) -> QACriterion:
    return QACriterion(name=name, check=name)


A, C = Role.AGENT, Role.CALLEE


def test_greeting_and_polite_end_pass_with_evidence() -> None:
    result = conversation(
        (C, "Billing, Dana speaking."),
        (A, "Good morning, this is Alex from Acme."),
        (C, "It's paid."),
        (A, "Thanks a lot, have a great day!"),
    )
    greeting = evaluate_criterion(result, check("greeting"), ctx())
    assert greeting.passed is True
    assert greeting.evidence == {
        "turn": 1,
        "role": "agent",
        "text": "Good morning, this is Alex from Acme.",
    }
    end = evaluate_criterion(result, check("polite_end"), ctx())
    assert end.passed is True
    assert end.evidence["turn"] == 3


def test_rude_agent_fails_greeting_and_polite_end() -> None:
    result = conversation((C, "Yes?"), (A, "Claim status."), (C, "Paid."), (A, "Ok."))
    assert evaluate_criterion(result, check("greeting"), ctx()).passed is False
    assert evaluate_criterion(result, check("polite_end"), ctx()).passed is False


def test_answer_recorded_before_verification_fails() -> None:
    result = conversation(
        (A, "Hello, this is Alex."),
        (C, "Before anything, can I have the member id to verify?"),
        (C, "Anyway it was paid."),
        (A, "The member id is XJ4471."),
        (C, "Thanks, verified."),
        verified=True,
        verified_at_turn=4,
        answers=[CollectedAnswer("status", "Anyway it was paid.", 2)],
    )
    got = evaluate_criterion(result, check("verified_before_disclosure"), ctx())
    assert got.passed is False
    assert got.evidence["turn"] == 2


def test_no_verification_asked_passes() -> None:
    result = conversation(
        (A, "Hello, this is Alex."),
        (C, "It was paid."),
        answers=[CollectedAnswer("status", "It was paid.", 1)],
    )
    got = evaluate_criterion(result, check("verified_before_disclosure"), ctx())
    assert got.passed is True
    assert got.reason == "the callee did not ask for verification"


def test_disclosure_only_counts_before_verification_is_asked() -> None:
    data = {"member_id": "XJ-4471", "patient_name": "Ann Lee"}
    early = conversation(
        (A, "Hello, I'm calling about Ann Lee, member XJ4471."),
        (C, "Sure."),
    )
    got = evaluate_criterion(
        early, check("no_disclosure_to_unverified"), ctx(input_data=data)
    )
    assert got.passed is False
    assert got.evidence["turn"] == 0

    asked = conversation(
        (A, "Hello, I'm calling about Ann Lee."),
        (C, "Can I have the member id?"),
        (A, "It is XJ4471."),
    )
    got = evaluate_criterion(
        asked, check("no_disclosure_to_unverified"), ctx(input_data=data)
    )
    assert got.passed is True


def test_required_fields_score_is_the_share_collected() -> None:
    fields = [
        PostCallField(name="a", required=True),
        PostCallField(name="b", required=True),
        PostCallField(name="c", required=True),
        PostCallField(name="d", required=True),
    ]
    result = conversation((A, "Hello"), (C, "Hi"))
    context = QAContext(
        fields=fields, collected={"a": 1, "c": "x", "d": False}, input_data={}
    )
    got = evaluate_criterion(result, check("required_fields_collected"), context)
    assert got.passed is False
    assert got.score == 0.75
    assert got.reason == "missing: b"


def test_phrase_criteria() -> None:
    result = conversation(
        (A, "Hello, this call may be recorded for quality purposes."),
        (C, "Fine, I'd like a callback tomorrow."),
    )
    disclaimer = QACriterion(name="disclaimer", phrases=["this call may be recorded"])
    assert evaluate_criterion(result, disclaimer, ctx()).passed is True
    callback = QACriterion(
        name="callback", phrases=["call me back", "callback"], speaker="callee"
    )
    assert evaluate_criterion(result, callback, ctx()).passed is True
    missing = QACriterion(name="ssn", phrases=["social security number"])
    assert evaluate_criterion(result, missing, ctx()).passed is False


def test_description_only_criterion_is_left_out_offline() -> None:
    result = conversation((A, "Hello"), (C, "Hi"))
    empathy = QACriterion(name="empathy", description="The agent shows empathy.")
    got = evaluate_criterion(result, empathy, ctx())
    assert got.passed is None
    assert got.score is None


def test_weighted_score_and_review_threshold() -> None:
    result = conversation(
        (C, "Billing."),
        (A, "Claim 123 status?"),  # no greeting: weight 1 fails
        (C, "Paid."),
        (A, "Bye."),
    )
    settings = QASettings(
        criteria=[
            QACriterion(name="greeting", check="greeting", weight=3),
            QACriterion(name="polite_end", check="polite_end", weight=1),
        ],
        review_threshold=50,
    )
    qa = score_call(result, settings, ctx())
    assert qa.score == 25.0
    assert qa.passed is False
    assert qa.review_required is True
    assert qa.threshold == 50


def test_no_applicable_criterion_gives_no_score() -> None:
    result = conversation(
        (C, "Leave a message."),
        (A, "Please call back."),
        disposition=Disposition.VOICEMAIL,
        answered_by=AnsweredBy.MACHINE,
    )
    qa = score_call(result, QASettings(), ctx())
    assert qa.score is None
    assert qa.review_required is False
    assert [c.passed for c in qa.criteria] == [None] * 5
    assert combine([], 70).score is None


def test_required_fields_check_does_not_apply_when_none_is_required() -> None:
    fields = [PostCallField(name="a"), PostCallField(name="b")]
    result = conversation((A, "Hello"), (C, "Hi"))
    context = QAContext(fields=fields, collected={"a": 1}, input_data={})
    got = evaluate_criterion(result, check("required_fields_collected"), context)
    assert got.passed is None
