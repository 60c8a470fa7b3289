import random
from collections import Counter
from pathlib import Path

import pytest

from callfleet.campaigns.settings import SimulationSettings, TelephonySettings
from callfleet.clock import FakeClock
from callfleet.telephony.base import (
    AnsweredBy,
    CallEvent,
    CallEventType,
    CallRequest,
    EndedBy,
)
from callfleet.telephony.registry import create_provider, register_provider
from callfleet.telephony.simulator import (
    ScenarioError,
    ScenarioLibrary,
    SimulatorProvider,
    load_scenario_file,
)

SHIPPED = [
    "after_hours",
    "busy",
    "carrier_capacity",
    "cooperative",
    "declined",
    "do_not_call",
    "hang_up",
    "invalid_number",
    "ivr",
    "no_answer",
    "refuses_verification",
    "transfer",
    "transfer_request",
    "voicemail",
    "wrong_number",
]


class CountingClock(FakeClock):
    def __init__(self) -> None:
        super().__init__(autojump=True)
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await super().sleep(seconds)


def provider(
    scenarios: dict[str, float] | None = None,
    *,
    seed: int = 7,
    time_scale: float = 0,
    clock: FakeClock | None = None,
) -> SimulatorProvider:
    settings = SimulationSettings(
        seed=seed, time_scale=time_scale, scenarios=scenarios or {"cooperative": 1}
    )
    return SimulatorProvider(settings, clock=clock or CountingClock())


def request(target: str = "t1", attempt: int = 1, **options) -> CallRequest:
    data = options.pop("input_data", {"member_id": "XZ-99812", "patient_name": "Ann"})
    return CallRequest(
        call_id=f"c-{target}-{attempt}",
        to_number="+12015550123",
        from_number="+12015550100",
        attempt=attempt,
        target_id=target,
        campaign_id="camp",
        input_data=data,
        options=options,
    )


async def events_until_speech_or_end(session) -> list[CallEvent]:
    seen = []
    while True:
        event = await session.next_event()
        seen.append(event)
        if event.type in (CallEventType.SPEECH, CallEventType.ENDED):
            return seen


async def dial(name: str, **kwargs):
    sim = provider({name: 1})
    return await sim.dial(request(**kwargs))


def test_every_shipped_scenario_loads() -> None:
    assert sorted(ScenarioLibrary.default().names()) == SHIPPED


@pytest.mark.parametrize(
    ("name", "code", "reason"),
    [
        ("no_answer", 408, "Request Timeout"),
        ("busy", 486, "Busy Here"),
        ("declined", 603, "Decline"),
        ("invalid_number", 404, "Not Found"),
        ("carrier_capacity", 503, "Service Unavailable"),
    ],
)
async def test_unconnected_calls_ring_then_end_with_their_code(
    name: str, code: int, reason: str
) -> None:
    session = await dial(name)
    ringing = await session.next_event()
    ended = await session.next_event()

    assert ringing.type is CallEventType.RINGING
    assert ended.type is CallEventType.ENDED
    assert (ended.code, ended.reason, ended.ended_by) == (code, reason, EndedBy.NETWORK)
    assert await session.next_event() == ended


async def test_no_answer_rings_for_thirty_simulated_seconds() -> None:
    session = await dial("no_answer")
    await session.next_event()
    assert (await session.next_event()).at_s == 30


async def test_voicemail_greets_then_beeps_and_records_the_message() -> None:
    session = await dial("voicemail")
    kinds = [e.type for e in await events_until_speech_or_end(session)]
    beep = await session.next_event()
    await session.say("Please call us back at your convenience.")
    await session.hangup()
    ended = await session.next_event()

    assert kinds == [
        CallEventType.RINGING,
        CallEventType.ANSWERED,
        CallEventType.SPEECH,
    ]
    assert beep.type is CallEventType.BEEP
    assert ended.ended_by is EndedBy.AGENT
    assert "call us back" in session.metadata()["voicemail_message"]


async def test_silent_voicemail_ends_at_the_recording_limit() -> None:
    session = await dial("voicemail")
    while (event := await session.next_event()).type is not CallEventType.ENDED:
        pass
    assert event.ended_by is EndedBy.CALLEE
    assert event.at_s >= 90


async def test_after_hours_recording_plays_and_hangs_up() -> None:
    session = await dial("after_hours")
    seen = await events_until_speech_or_end(session)
    ended = await session.next_event()

    assert seen[1].answered_by is AnsweredBy.MACHINE
    assert "office is closed" in (seen[-1].text or "")
    assert ended.type is CallEventType.ENDED and ended.ended_by is EndedBy.CALLEE


async def test_ivr_menu_takes_digits_holds_then_connects_a_person() -> None:
    session = await dial("ivr")
    seen = await events_until_speech_or_end(session)
    assert seen[1].answered_by is AnsweredBy.IVR
    assert "press 2" in (seen[-1].text or "")

    await session.press("2")
    submenu = await session.next_event()
    await session.press("1")
    hold = await session.next_event()
    resumed = await session.next_event()
    person = await session.next_event()

    assert "claim status, press 1" in (submenu.text or "")
    assert hold.type is CallEventType.HOLD and hold.duration_s == 60
    assert resumed.type is CallEventType.RESUMED
    assert resumed.at_s == pytest.approx(hold.at_s + 60)
    assert person.type is CallEventType.SPEECH and "Casey" in (person.text or "")


async def test_ivr_repeats_on_invalid_digit_and_gives_up_after_retries() -> None:
    session = await dial("ivr")
    await events_until_speech_or_end(session)
    await session.press("7")
    retry = await session.next_event()
    await session.say("representative")
    await session.next_event()
    await session.say("representative")
    await session.next_event()
    ended = await session.next_event()

    assert retry.text is not None and retry.text.startswith(
        "Sorry, that is not a valid option"
    )
    assert ended.type is CallEventType.ENDED and ended.ended_by is EndedBy.CALLEE


async def test_person_verifies_then_answers_facts_by_meaning() -> None:
    session = await dial("cooperative")
    await events_until_speech_or_end(session)
    await session.say("Hi, I'm calling about a claim.")
    asks = (await session.next_event()).text or ""
    await session.say("Sure, the member ID is xz 99812.")
    verified = (await session.next_event()).text or ""
    await session.say("Could you tell me where the claim stands, its status?")
    status = (await session.next_event()).text or ""
    await session.say("And what's the favourite colour of the adjuster?")
    unknown = (await session.next_event()).text or ""
    await session.say("Thanks so much, goodbye.")
    bye = (await session.next_event()).text or ""

    facts = session.metadata()["facts"]
    assert "member ID" in asks
    assert "verified" in verified
    assert status == f"The claim is {facts['claim_status']}."
    assert unknown == "I'm sorry, I don't have that information."
    assert "Goodbye" in bye
    assert session.metadata()["facts_given"] == ["claim_status"]


async def test_wrong_verification_answer_is_refused() -> None:
    session = await dial("cooperative")
    await events_until_speech_or_end(session)
    await session.say("Hi, I'm calling about a claim.")
    await session.next_event()
    await session.say("The member ID is XZ-11111.")
    first = (await session.next_event()).text or ""
    await session.say("Sorry, it is AB-00000.")
    second = (await session.next_event()).text or ""
    await session.say("What is the claim status?")
    third = (await session.next_event()).text or ""

    assert "doesn't match" in first and "member ID" in first
    assert "can't release" in second
    assert "can't release" in third


async def test_date_verification_accepts_any_common_form() -> None:
    sim = provider({"cooperative": 1})
    scenario = sim.library.get("cooperative").model_copy(deep=True)
    check = scenario.person.verification[0].model_copy(
        update={"keys": ["date_of_birth"], "kind": "date", "question": "your DOB?"}
    )
    person = scenario.person.model_copy(update={"verification": [check]})
    sim.library.add(scenario.model_copy(update={"name": "dob", "person": person}))
    session = await sim.dial(
        request(scenario="dob", input_data={"date_of_birth": "1984-03-07"})
    )
    await events_until_speech_or_end(session)
    await session.say("Hello.")
    await session.next_event()
    await session.say("It's March 7th, 1984.")
    assert "verified" in ((await session.next_event()).text or "")


async def test_facts_are_deterministic_per_target_and_recorded() -> None:
    first = await provider().dial(request("t9", attempt=1))
    again = await provider().dial(request("t9", attempt=2))
    other = [
        (await provider().dial(request(f"x{i}"))).metadata()["facts"] for i in range(20)
    ]

    facts = first.metadata()["facts"]
    assert facts == again.metadata()["facts"]
    assert facts["claim_status"] in {"paid", "denied", "pending"}
    assert 40 <= float(facts["paid_amount"]) <= 900
    assert any(f != facts for f in other)
    assert first.metadata()["scenario"] == "cooperative"
    assert first.metadata()["seed"] == 7


async def test_scenario_choice_is_deterministic_and_follows_weights() -> None:
    weights = {"cooperative": 0.6, "voicemail": 0.3, "busy": 0.1}
    sim = provider(weights)
    picks = [sim.pick(request(f"t{i}")) for i in range(3000)]
    again = [provider(weights).pick(request(f"t{i}")) for i in range(3000)]
    other_seed = [provider(weights, seed=8).pick(request(f"t{i}")) for i in range(3000)]

    assert picks == again
    assert picks != other_seed
    counts = Counter(picks)
    for name, weight in weights.items():
        assert counts[name] / 3000 == pytest.approx(weight, abs=0.04)
    assert sim.pick(request("t1", attempt=2)) in weights


async def test_per_call_scenario_option_wins() -> None:
    sim = provider({"cooperative": 1})
    session = await sim.dial(request(scenario="busy"))
    await session.next_event()
    assert (await session.next_event()).code == 486
    assert session.metadata()["scenario"] == "busy"


async def test_unknown_scenarios_are_reported() -> None:
    with pytest.raises(ValueError, match="nope"):
        provider({"nope": 1})
    session = await provider().dial(request(scenario="missing"))
    await session.next_event()
    ended = await session.next_event()
    assert ended.type is CallEventType.ENDED and "missing" in (ended.reason or "")


async def test_time_scale_zero_never_sleeps() -> None:
    clock = CountingClock()
    sim = provider({"ivr": 1}, clock=clock)
    session = await sim.dial(request())
    await events_until_speech_or_end(session)
    await session.press("0")
    for _ in range(4):
        await session.next_event()
    await session.say("What is the claim status?")
    await session.hangup()
    await session.next_event()
    assert clock.slept == []


async def test_time_scale_paces_simulated_time_on_the_clock() -> None:
    clock = CountingClock()
    sim = provider({"no_answer": 1}, time_scale=0.5, clock=clock)
    session = await sim.dial(request())
    await session.next_event()
    ended = await session.next_event()
    assert sum(clock.slept) == pytest.approx(ended.at_s * 0.5)


def test_bad_scenario_file_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nperson:\n  verification:\n    - question: hi\n")
    with pytest.raises(
        ScenarioError, match=r"broken\.yaml.*person\.verification\.0\.keys"
    ):
        load_scenario_file(path)

    path.write_text("name: two\nnetwork: {code: 486, reason: busy}\nvoicemail: {}\n")
    with pytest.raises(ScenarioError, match="exactly one of"):
        load_scenario_file(path)


def test_registry_builds_the_simulator_and_names_unknown_providers() -> None:
    settings = TelephonySettings(simulation=SimulationSettings(scenarios={"busy": 1}))
    built = create_provider("simulator", settings, clock=FakeClock())
    assert isinstance(built, SimulatorProvider)
    with pytest.raises(ValueError, match="'twilio'"):
        create_provider("twilio", settings, clock=FakeClock())

    register_provider("custom-test", lambda s, *, clock, **kw: built)
    assert create_provider("custom-test", settings, clock=FakeClock()) is built


def test_choice_uses_its_own_random_stream() -> None:
    random.seed(1)
    before = random.random()
    random.seed(1)
    provider({"cooperative": 1, "busy": 1}).pick(request())
    assert random.random() == before
