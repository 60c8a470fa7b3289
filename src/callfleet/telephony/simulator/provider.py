"""The simulated phone network: plays the far end of each call from a scenario.

Everything is driven by the agent's actions; the far end reacts synchronously
and queues its events with simulated timestamps. Real waiting only happens when
``time_scale`` is above zero, as ``clock.sleep(simulated_seconds * time_scale)``.
"""

from __future__ import annotations

import random
import re
from collections import deque
from datetime import date, timedelta
from typing import Any

import structlog

from callfleet.campaigns.settings import SimulationSettings
from callfleet.clock import Clock
from callfleet.telephony.base import (
    AnsweredBy,
    CallEvent,
    CallEventType,
    CallRequest,
    CallSession,
    EndedBy,
    TelephonyProvider,
)
from callfleet.telephony.simulator.matching import (
    PhraseMatcher,
    normalize,
    render,
    value_matches,
)
from callfleet.telephony.simulator.scenario import (
    IvrNode,
    Person,
    RandomValue,
    Scenario,
    ScenarioLibrary,
    VerificationCheck,
)

log = structlog.get_logger()

AGENT_WORDS_PER_SECOND = 2.5
RESPONSE_GAP_S = 0.6
SILENCE_S = 5.0
MAX_SILENCES = 3

_GOODBYE = re.compile(r"\b(good\s?bye|bye|have a (good|great|nice) (day|one))\b", re.I)
_CONFIRM = re.compile(
    r"\b(to confirm|is that (right|correct)|did i get that right|let me repeat|"
    r"confirming)\b",
    re.I,
)
_NOT_GIVEN = re.compile(r"\b(don'?t have|do not have|not able to|unable to)\b", re.I)


def choose_scenario(
    seed: int, target_id: str, attempt: int, names: list[str], cum_weights: list[float]
) -> str:
    rng = random.Random(f"{seed}:{target_id}:{attempt}")
    return rng.choices(names, cum_weights=cum_weights)[0]


def draw_value(spec: RandomValue, rng: random.Random) -> str:
    if spec.money:
        low, high = spec.money
        value = f"{rng.uniform(low, high):.2f}"
    elif spec.integer:
        value = str(rng.randint(*spec.integer))
    elif spec.choice:
        value = rng.choice(spec.choice)
    elif spec.date:
        start, end = (date.fromisoformat(d) for d in spec.date)
        value = (start + timedelta(days=rng.randint(0, (end - start).days))).isoformat()
    else:
        assert spec.digits
        value = "".join(rng.choice("0123456789") for _ in range(spec.digits))
    return spec.prefix + value


def resolve_facts(
    person: Person, input_data: dict[str, Any], rng: random.Random
) -> tuple[dict[str, str], dict[str, str]]:
    """The values the person holds and what they say for each fact."""
    context: dict[str, Any] = dict(input_data)
    for name, spec in person.variables.items():
        context[name] = draw_value(spec, rng)
    values: dict[str, str] = {}
    answers: dict[str, str] = {}
    for name, fact in person.facts.items():
        value = render(fact.value, context)
        values[name] = value
        answers[name] = render(fact.answer or value, {**context, "value": value})
    return values, answers


def _speech_s(text: str, words_per_second: float) -> float:
    return max(0.4, len(text.split()) / words_per_second)


class SimulatorProvider(TelephonyProvider):
    name = "simulator"

    def __init__(
        self,
        settings: SimulationSettings,
        *,
        clock: Clock,
        scenario_library: ScenarioLibrary | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.library = scenario_library or ScenarioLibrary.default()
        unknown = [n for n in settings.scenarios if n not in self.library]
        if unknown:
            raise ValueError(f"unknown simulator scenarios: {', '.join(unknown)}")
        self._names = [n for n, w in settings.scenarios.items()]
        self._cum: list[float] = []
        total = 0.0
        for name in self._names:
            total += settings.scenarios[name]
            self._cum.append(total)
        self._matchers: dict[str, PhraseMatcher] = {}

    def pick(self, request: CallRequest) -> str:
        chosen = request.options.get("scenario")
        if chosen:
            return str(chosen)
        return choose_scenario(
            self.settings.seed,
            request.target_id,
            request.attempt,
            self._names,
            self._cum,
        )

    async def dial(self, request: CallRequest) -> CallSession:
        name = self.pick(request)
        if name not in self.library:
            log.warning("simulator.unknown_scenario", scenario=name)
            return SimulatedCall(None, request, self, scenario_name=name)
        scenario = self.library.get(name)
        return SimulatedCall(scenario, request, self, scenario_name=name)

    def matcher(self, scenario: Scenario) -> PhraseMatcher:
        # Scenarios are immutable, so the fact matcher is built once per name.
        matcher = self._matchers.get(scenario.name)
        if matcher is None:
            person = scenario.person
            facts = person.facts if person else {}
            matcher = PhraseMatcher({k: f.aliases for k, f in facts.items()})
            self._matchers[scenario.name] = matcher
        return matcher


class SimulatedCall(CallSession):
    def __init__(
        self,
        scenario: Scenario | None,
        request: CallRequest,
        provider: SimulatorProvider,
        *,
        scenario_name: str,
    ) -> None:
        self.provider_call_id = f"sim-{request.call_id}"
        self.scenario = scenario
        self.scenario_name = scenario_name
        self.request = request
        self._clock = provider.clock
        self._scale = provider.settings.time_scale
        self._seed = provider.settings.seed
        self._t = 0.0
        self._synced = 0.0
        self._queue: deque[CallEvent] = deque()
        self._ended: CallEvent | None = None
        self._end_queued = False
        self._mode = "network"
        self._silences = 0
        self._agent_turns = 0
        self._facts: dict[str, str] = {}
        self._answers: dict[str, str] = {}
        self._given: list[str] = []
        self._verify_index = 0
        self._checks: list[VerificationCheck] = []
        self._verify_tries = 0
        self._person_state = "greeting"
        self._said_goodbye = False
        self._ivr_node: IvrNode | None = None
        self._ivr_retries = 0
        self._voicemail_message: list[str] = []
        self._wps = AGENT_WORDS_PER_SECOND
        self._matcher: PhraseMatcher | None = None

        self._emit(CallEventType.RINGING)
        if scenario is None:
            self._end(500, f"unknown scenario {scenario_name}", EndedBy.NETWORK)
            return
        if scenario.person is not None:
            self._wps = scenario.person.words_per_second
            rng = random.Random(f"{self._seed}:{request.target_id}:facts")
            self._facts, self._answers = resolve_facts(
                scenario.person, request.input_data, rng
            )
            self._matcher = provider.matcher(scenario)
        self._connect(scenario)

    # --- CallSession ------------------------------------------------------

    async def next_event(self) -> CallEvent:
        if not self._queue and self._ended is None:
            self._on_silence()
        if not self._queue:
            assert self._ended is not None
            return self._ended
        event = self._queue.popleft()
        await self._sync(event.at_s + event.duration_s)
        if event.type is CallEventType.ENDED:
            self._ended = event
            self._queue.clear()
        return event

    async def say(self, text: str) -> None:
        if self._end_queued:
            return
        duration = _speech_s(text, AGENT_WORDS_PER_SECOND)
        self._t += duration
        await self._sync(self._t)
        self._t += RESPONSE_GAP_S
        self._silences = 0
        if self._mode == "person":
            self._person_hears(text)
        elif self._mode == "ivr":
            self._ivr_retry()
        elif self._mode == "voicemail":
            self._voicemail_message.append(text)

    async def press(self, digits: str) -> None:
        if self._end_queued:
            return
        self._t += 0.3 * len(digits)
        await self._sync(self._t)
        self._silences = 0
        if self._mode == "ivr":
            for digit in digits:
                self._ivr_press(digit)
                if self._mode != "ivr":
                    break

    async def transfer(self, number: str) -> None:
        if not self._end_queued:
            self._end(200, "transferred", EndedBy.AGENT)

    async def hangup(self, reason: str = "agent_hangup") -> None:
        if not self._end_queued:
            self._end(200, reason, EndedBy.AGENT)

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "scenario": self.scenario_name,
            "facts": dict(self._facts),
            "seed": self._seed,
            "facts_given": list(self._given),
        }
        if self._voicemail_message:
            data["voicemail_message"] = " ".join(self._voicemail_message)
        if self.scenario is not None and self.scenario.source:
            data["source"] = dict(self.scenario.source)
        return data

    # --- timeline ----------------------------------------------------------

    async def _sync(self, until: float) -> None:
        if self._scale > 0 and until > self._synced:
            await self._clock.sleep((until - self._synced) * self._scale)
        self._synced = max(self._synced, until)

    def _emit(self, kind: CallEventType, **fields: Any) -> None:
        self._queue.append(CallEvent(type=kind, at_s=self._t, **fields))

    def _speak(self, text: str) -> None:
        duration = _speech_s(text, self._wps)
        self._queue.append(
            CallEvent(
                CallEventType.SPEECH, at_s=self._t, text=text, duration_s=duration
            )
        )
        self._t += duration + RESPONSE_GAP_S

    def _end(self, code: int, reason: str, ended_by: EndedBy) -> None:
        self._end_queued = True
        self._mode = "done"
        self._emit(CallEventType.ENDED, code=code, reason=reason, ended_by=ended_by)

    def _hold(self, message: str, hold_s: float) -> None:
        self._queue.append(
            CallEvent(CallEventType.HOLD, at_s=self._t, text=message, duration_s=hold_s)
        )
        self._t += hold_s
        self._emit(CallEventType.RESUMED)

    # --- who picks up --------------------------------------------------------

    def _connect(self, scenario: Scenario) -> None:
        self._t = scenario.ring_s
        if scenario.network is not None:
            self._end(scenario.network.code, scenario.network.reason, EndedBy.NETWORK)
            return

        if scenario.recording is not None:
            self._emit(CallEventType.ANSWERED, answered_by=AnsweredBy.MACHINE)
            self._speak(render(scenario.recording.text, self.request.input_data))
            self._end(200, "callee hangup", EndedBy.CALLEE)
        elif scenario.voicemail is not None:
            self._emit(CallEventType.ANSWERED, answered_by=AnsweredBy.MACHINE)
            self._speak(render(scenario.voicemail.greeting, self.request.input_data))
            self._emit(CallEventType.BEEP)
            self._t += 0.5
            self._mode = "voicemail"
        elif scenario.ivr is not None:
            self._emit(CallEventType.ANSWERED, answered_by=AnsweredBy.IVR)
            self._mode = "ivr"
            self._ivr_node = scenario.ivr.menu
            self._speak(
                f"{scenario.ivr.welcome} {scenario.ivr.menu.prompt or ''}".strip()
            )
        else:
            assert scenario.person is not None
            self._emit(CallEventType.ANSWERED, answered_by=AnsweredBy.HUMAN)
            self._mode = "person"
            self._speak(self._text(scenario.person.greeting))

    def _on_silence(self) -> None:
        """The agent waits without acting: the far end reacts to the silence."""
        self._t += SILENCE_S
        self._silences += 1
        if self._mode == "voicemail":
            assert self.scenario is not None and self.scenario.voicemail is not None
            self._t = max(self._t, self.scenario.voicemail.max_message_s)
            self._end(200, "recording limit reached", EndedBy.CALLEE)
        elif self._mode == "ivr":
            self._ivr_retry()
        elif self._mode == "person":
            if self._said_goodbye or self._silences > MAX_SILENCES:
                self._end(200, "callee hangup", EndedBy.CALLEE)
            else:
                self._speak("Hello? Are you still there?")
        else:
            self._end(200, "callee hangup", EndedBy.CALLEE)

    # --- IVR -----------------------------------------------------------------

    def _ivr_retry(self, message: str | None = None) -> None:
        assert self.scenario is not None and self.scenario.ivr is not None
        ivr = self.scenario.ivr
        self._ivr_retries += 1
        if self._ivr_retries > ivr.max_retries:
            self._speak("We did not receive a valid response. Goodbye.")
            self._end(200, "no input", EndedBy.CALLEE)
            return
        node = self._ivr_node
        prompt = node.prompt if node and node.prompt else ""
        self._speak(f"{message or ivr.invalid_message} {prompt}".strip())

    def _ivr_press(self, digit: str) -> None:
        node = self._ivr_node
        assert node is not None and self.scenario is not None
        child = node.options.get(digit)
        if child is None:
            self._ivr_retry()
            return
        self._ivr_retries = 0
        if child.say:
            self._speak(self._text(child.say))
        if child.hang_up:
            self._end(200, "callee hangup", EndedBy.CALLEE)
        elif child.connect:
            self._hold(child.hold_message, child.hold_s)
            self._mode = "person"
            person = self.scenario.person
            assert person is not None
            self._speak(self._text(person.greeting))
        else:
            self._ivr_node = child
            self._speak(child.prompt or "")

    # --- the person ------------------------------------------------------------

    def _text(self, source: str) -> str:
        return render(source, {**self.request.input_data, **self._facts})

    def _person_hears(self, text: str) -> None:
        person = self.scenario.person if self.scenario else None
        assert person is not None
        self._agent_turns += 1

        if self._person_state != "greeting" and _GOODBYE.search(text):
            self._said_goodbye = True
            self._speak(person.goodbye)
            return
        if (
            person.hang_up_after_turns
            and self._agent_turns > person.hang_up_after_turns
        ):
            self._speak(person.hang_up_message)
            self._end(200, "callee hangup", EndedBy.CALLEE)
            return

        if self._person_state == "greeting":
            self._opening(person)
        elif self._person_state == "verifying":
            self._check_verification(person, text)
        elif self._person_state == "refused":
            if _GOODBYE.search(text):
                self._speak(person.goodbye)
            else:
                self._speak(person.refusal_message)
        elif _CONFIRM.search(text):
            self._speak("Yes, that's correct.")
        else:
            self._answer(person, text)

    def _opening(self, person: Person) -> None:
        reply = self._text(person.reply_to_opening)
        if person.hang_up_after_opening:
            self._speak(reply)
            self._end(200, "callee hangup", EndedBy.CALLEE)
            return
        if person.transfer is not None:
            step = person.transfer
            self._speak(self._text(step.message))
            self._hold(step.hold_message, step.hold_s)
            reply = self._text(step.greeting)
        if person.asks_for_transfer:
            reply = f"{reply} {self._text(person.asks_for_transfer)}"
        self._checks = [
            check
            for check in person.verification
            if not check.skip_if_missing or self._expected(check) is not None
        ]
        if self._checks:
            self._person_state = "verifying"
            reply = f"{reply} Before I can help, {self._checks[0].question}"
        else:
            self._person_state = "open"
        self._speak(reply)

    def _expected(self, check: VerificationCheck) -> str | None:
        data = self.request.input_data
        return next(
            (str(data[k]) for k in check.keys if data.get(k) not in (None, "")), None
        )

    def _check_verification(self, person: Person, text: str) -> None:
        check = self._checks[self._verify_index]
        expected = self._expected(check)
        if (
            expected is not None
            and not _NOT_GIVEN.search(text)
            and value_matches(expected, text, kind=check.kind)
        ):
            self._verify_index += 1
            self._verify_tries = 0
            if self._verify_index >= len(self._checks):
                self._person_state = "open"
                self._speak(self._text(person.verified_message))
            else:
                nxt = self._checks[self._verify_index].question
                self._speak(f"Thank you. {nxt}")
            return

        self._verify_tries += 1
        if self._verify_tries >= 2 or _NOT_GIVEN.search(text):
            self._person_state = "refused"
            self._speak(f"{person.mismatch_message} {person.refusal_message}")
        else:
            self._speak(f"{person.mismatch_message} {check.question}")

    def _answer(self, person: Person, text: str) -> None:
        assert self._matcher is not None
        name = self._matcher.best(text)
        if name is None:
            if "?" in text or normalize(text).startswith(("what", "can", "could")):
                self._speak(person.unknown_message)
            else:
                self._speak("Okay.")
            return
        if name not in self._given:
            self._given.append(name)
        self._speak(self._answers[name])
