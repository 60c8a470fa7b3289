import asyncio
from pathlib import Path
from typing import Any

import pytest

from callfleet.agent import AgentContext, run_conversation
from callfleet.agent.brains import AgentBrain, CallState, create_brain
from callfleet.agent.brains.scripted import ScriptedBrain
from callfleet.campaigns.settings import (
    AgentSettings,
    CampaignSettings,
    Disposition,
    PostCallField,
    PostCallSettings,
    SimulationSettings,
    VoicemailSettings,
)
from callfleet.clock import FakeClock
from callfleet.conversation import ConversationResult, Role
from callfleet.telephony.base import AnsweredBy, CallEvent, CallRequest, EndedBy
from callfleet.telephony.simulator import (
    ScenarioLibrary,
    SimulatorProvider,
    load_multidogo,
    multidogo_fields,
)
from callfleet.telephony.simulator.matching import normalize

DATA = Path(__file__).resolve().parents[3] / "shared/data/multidogo/insurance-dev.tsv"

CLAIM_FIELDS = [
    PostCallField(
        name="claim_status",
        type="enum",
        values=["paid", "denied", "pending"],
        description="Status of the claim",
        question="What is the status of the claim?",
        required=True,
    ),
    PostCallField(
        name="paid_amount",
        type="money",
        description="Paid amount",
        question="How much was paid?",
    ),
]
INPUT = {"member_id": "XZ-99812", "patient_name": "Ann Lee", "practice_name": "Oak"}


def campaign(**agent: Any) -> CampaignSettings:
    fields = agent.pop("fields", CLAIM_FIELDS)
    return CampaignSettings(
        name="Claims",
        agent=AgentSettings(**agent),
        post_call=PostCallSettings(fields=fields),
    )


async def call(
    scenario: str,
    settings: CampaignSettings | None = None,
    *,
    input_data: dict[str, Any] | None = None,
    library: ScenarioLibrary | None = None,
    brain: AgentBrain | None = None,
    target: str = "t1",
) -> ConversationResult:
    settings = settings or campaign()
    data = INPUT if input_data is None else input_data
    clock = FakeClock(autojump=True)
    sim = SimulatorProvider(
        SimulationSettings(seed=3, time_scale=0, scenarios={"cooperative": 1}),
        clock=clock,
        scenario_library=library,
    )
    session = await sim.dial(
        CallRequest(
            call_id="1",
            to_number="+12015550123",
            from_number="+12015550100",
            attempt=1,
            target_id=target,
            campaign_id="c",
            input_data=data,
            options={"scenario": scenario},
        )
    )
    context = AgentContext(settings, data, target_id=target)
    return await run_conversation(
        session, context, brain or create_brain(context), clock=clock
    )


def said(result: ConversationResult, role: Role = Role.AGENT) -> list[str]:
    return [t.content for t in result.turns if t.role is role]


async def test_cooperative_call_collects_every_field_after_verifying() -> None:
    result = await call("cooperative")
    facts = result.metadata["facts"]
    answers = {a.field: a.text for a in result.answers}

    assert result.disposition is Disposition.COMPLETED
    assert result.ended_reason == "assistant-ended-call"
    assert result.answered_by is AnsweredBy.HUMAN
    assert result.verified and result.verified_at_turn is not None
    assert "XZ-99812" in result.turns[result.verified_at_turn - 1].content
    assert set(answers) == {"claim_status", "paid_amount"}
    assert facts["claim_status"] in answers["claim_status"]
    assert facts["paid_amount"] in answers["paid_amount"]
    assert said(result)[0].startswith("Hello, this is Alex")
    assert said(result)[-1] == "Thank you for your help. Goodbye."
    assert result.duration_s > result.talk_s > 0
    turns = result.turns
    assert all(a.end_s >= a.start_s for a in turns)
    assert all(b.start_s >= a.start_s for a, b in zip(turns, turns[1:], strict=False))
    assert result.metadata["scenario"] == "cooperative"


async def test_rephrases_a_question_once_when_the_answer_does_not_fit() -> None:
    fields = [
        PostCallField(
            name="copay", type="money", description="Copay", question="Who is it?"
        )
    ]
    result = await call("cooperative", campaign(fields=fields))
    agent = said(result)
    assert "Could you repeat the copay?" in " ".join(agent)
    assert [a.field for a in result.answers] == ["copay"]
    assert result.metadata["facts"]["copay"] in result.answers[0].text


async def test_navigates_the_ivr_toward_its_goal_then_talks_to_a_person() -> None:
    settings = campaign(goal="claim status")
    result = await call("ivr", settings)

    assert result.ivr_digits == ["2", "1"]
    assert result.hold_s == 60
    assert result.answered_by is AnsweredBy.IVR
    assert result.disposition is Disposition.COMPLETED
    assert {a.field for a in result.answers} == {"claim_status", "paid_amount"}
    assert any(t.kind == "dtmf" and t.role is Role.AGENT for t in result.turns)


async def test_ivr_without_a_matching_option_asks_for_a_representative() -> None:
    result = await call("ivr", campaign(goal="dental x-rays", fields=[]))
    assert result.ivr_digits == ["0"]
    assert result.disposition is Disposition.COMPLETED


async def test_leaves_a_voicemail_after_the_beep() -> None:
    settings = campaign(
        voicemail=VoicemailSettings(message="Please call {{ practice_name }} back.")
    )
    result = await call("voicemail", settings)

    assert result.disposition is Disposition.VOICEMAIL
    assert result.ended_reason == "voicemail"
    assert result.voicemail_left
    assert result.metadata["voicemail_message"] == "Please call Oak back."
    assert [t.content for t in result.turns if t.role is Role.SYSTEM] == ["beep"]


async def test_hangs_up_on_a_machine_when_told_to() -> None:
    settings = campaign(voicemail=VoicemailSettings(action="hang_up"))
    result = await call("voicemail", settings)
    assert result.disposition is Disposition.VOICEMAIL
    assert not result.voicemail_left
    assert said(result) == []


async def test_only_gives_data_allowed_by_verification_keys() -> None:
    result = await call("cooperative", campaign(verification_keys=["patient_name"]))

    assert not any("XZ-99812" in text for text in said(result))
    assert "I'm sorry, I don't have that information available." in said(result)
    assert not result.verified
    assert result.answers == []
    assert result.disposition is Disposition.COMPLETED


async def test_refused_verification_ends_the_call_politely() -> None:
    result = await call("refuses_verification")
    assert result.answers == []
    assert not result.verified
    assert "follow up another way" in said(result)[-1]


@pytest.mark.parametrize(
    ("scenario", "disposition", "flag"),
    [
        ("do_not_call", Disposition.DO_NOT_CALL, "dnc_requested"),
        ("wrong_number", Disposition.WRONG_NUMBER, "wrong_number"),
        ("after_hours", Disposition.AFTER_HOURS, "after_hours"),
    ],
)
async def test_special_endings(
    scenario: str, disposition: Disposition, flag: str
) -> None:
    result = await call(scenario)
    assert result.disposition is disposition
    assert getattr(result, flag) is True
    assert result.answers == []


async def test_do_not_call_is_acknowledged() -> None:
    result = await call("do_not_call")
    assert "not called again" in said(result)[-1]
    assert result.ended_by is EndedBy.AGENT


async def test_callee_hanging_up_mid_call() -> None:
    result = await call("hang_up")
    assert result.disposition is Disposition.COMPLETED
    assert result.ended_reason == "customer-ended-call"
    assert result.ended_by is EndedBy.CALLEE
    assert [a.field for a in result.answers] == ["claim_status"]


async def test_waits_through_a_transfer_by_the_callee() -> None:
    result = await call("transfer")
    assert result.hold_s == 45
    assert result.disposition is Disposition.COMPLETED
    assert {a.field for a in result.answers} == {"claim_status", "paid_amount"}


async def test_transfers_a_callee_who_asks_for_a_human() -> None:
    result = await call("transfer_request", campaign(transfer_number="+12015550199"))
    assert result.disposition is Disposition.TRANSFERRED
    assert result.transferred
    assert result.ended_reason == "transferred"


async def test_without_a_transfer_number_keeps_going() -> None:
    result = await call("transfer_request")
    assert result.disposition is Disposition.COMPLETED
    assert "not able to transfer" in said(result)[1]
    assert [a.field for a in result.answers] == ["claim_status"]


@pytest.mark.parametrize(
    ("scenario", "disposition", "reason", "code"),
    [
        ("no_answer", Disposition.NO_ANSWER, "no-answer", 408),
        ("busy", Disposition.BUSY, "busy", 486),
        ("declined", Disposition.DECLINED, "declined", 603),
        ("invalid_number", Disposition.INVALID_NUMBER, "invalid-number", 404),
        ("carrier_capacity", Disposition.CAPACITY, "capacity", 503),
    ],
)
async def test_calls_that_never_connect(
    scenario: str, disposition: Disposition, reason: str, code: int
) -> None:
    result = await call(scenario)
    assert (result.disposition, result.ended_reason) == (disposition, reason)
    assert result.provider_code == code
    assert result.ended_by is EndedBy.NETWORK
    assert result.answered_by is None and result.turns == []


async def test_max_duration_is_enforced_in_simulated_time() -> None:
    # The IVR's representative queue holds for 120 s; 30 s is the least allowed.
    result = await call("ivr", campaign(max_duration_s=30))
    assert result.ended_reason == "max-duration-reached"
    assert result.ended_by is EndedBy.AGENT
    assert result.duration_s < 30 + 121


async def test_a_stuck_brain_hits_the_wall_clock_guard() -> None:
    class Stuck(ScriptedBrain):
        async def on_event(self, event: CallEvent, state: CallState):
            await asyncio.sleep(5)
            return []

    settings = campaign()
    clock = FakeClock(autojump=True)
    sim = SimulatorProvider(
        SimulationSettings(time_scale=0, scenarios={"cooperative": 1}), clock=clock
    )
    session = await sim.dial(
        CallRequest("1", "+12015550123", "+12015550100", 1, "t", "c", dict(INPUT))
    )
    context = AgentContext(settings, dict(INPUT), "t", wall_timeout_s=0.05)
    result = await run_conversation(session, context, Stuck(), clock=clock)
    assert result.ended_reason == "max-duration-reached"


async def test_a_failing_brain_gives_a_failed_result_not_a_crash() -> None:
    class Broken(ScriptedBrain):
        async def on_event(self, event: CallEvent, state: CallState):
            if event.text:
                raise RuntimeError("boom")
            return await super().on_event(event, state)

    result = await call("cooperative", brain=Broken())
    assert result.disposition is Disposition.FAILED
    assert result.error == "RuntimeError: boom"
    assert result.ended_by is EndedBy.AGENT


async def test_max_turns_is_enforced() -> None:
    settings = campaign()
    clock = FakeClock(autojump=True)
    sim = SimulatorProvider(
        SimulationSettings(time_scale=0, scenarios={"cooperative": 1}), clock=clock
    )
    session = await sim.dial(
        CallRequest("1", "+12015550123", "+12015550100", 1, "t", "c", dict(INPUT))
    )
    context = AgentContext(settings, dict(INPUT), "t", max_turns=3)
    result = await run_conversation(session, context, ScriptedBrain(), clock=clock)
    assert result.ended_reason == "max-turns-reached"
    assert len(result.turns) <= 4


@pytest.mark.skipif(not DATA.exists(), reason="MultiDoGO data not present")
async def test_collects_multidogo_slot_values_from_real_utterances() -> None:
    library = ScenarioLibrary.default()
    scenarios = load_multidogo(DATA)[:25]
    for scenario in scenarios:
        library.add(scenario)
    settings = campaign(fields=multidogo_fields())

    collected = expected = 0
    for scenario in scenarios:
        result = await call(scenario.name, settings, input_data={}, library=library)
        answers = {a.field: a.text for a in result.answers}
        assert result.disposition is Disposition.COMPLETED
        for name, value in result.metadata["facts"].items():
            expected += 1
            if name in answers and normalize(value) in normalize(answers[name]):
                collected += 1
    assert expected > 50
    assert collected / expected > 0.95
