"""The scripted brain: an offline agent that follows the campaign's settings.

It greets, navigates IVR menus toward its goal, answers verification
questions from the target's input data, asks each post-call field's question
in order (once more when the answer does not fit the field), confirms what it
heard and ends politely. It recognizes voicemail, closed offices, wrong
numbers, do-not-call requests and transfers.
"""

from __future__ import annotations

from typing import Any

import structlog

from callfleet.agent.brains.base import (
    Action,
    AgentBrain,
    CallState,
    EndCall,
    EndReason,
    LeaveVoicemail,
    MarkVerified,
    Press,
    RecordAnswer,
    Say,
    Transfer,
)
from callfleet.agent.concepts import (
    AFTER_HOURS,
    DO_NOT_CALL,
    GOODBYE,
    MISMATCH,
    NOT_KNOWN,
    REFUSAL,
    STILL_THERE,
    TRANSFER_OFFER,
    TRANSFER_REQUEST,
    VERIFIED,
    WRONG_NUMBER,
    choose_menu_option,
    menu_options,
    requested_concept,
    stems,
)
from callfleet.agent.context import AgentContext
from callfleet.campaigns.settings import FieldType, PostCallField
from callfleet.telephony.base import AnsweredBy, CallEvent, CallEventType
from callfleet.telephony.simulator.matching import PhraseMatcher

log = structlog.get_logger()

try:
    from callfleet.analysis.extraction import extract_value
except ImportError:  # pragma: no cover - the analysis package ships alongside
    extract_value = None  # type: ignore[assignment]

DNC_MESSAGE = (
    "I understand, I'll make sure this number is not called again. "
    "Sorry for the trouble. Goodbye."
)
WRONG_NUMBER_MESSAGE = "I'm sorry for the confusion. Have a good day. Goodbye."
REFUSED_MESSAGE = (
    "I understand. We'll follow up another way. Thank you for your time. Goodbye."
)
NOT_AVAILABLE = "I'm sorry, I don't have that information available."


def parse_answer(field: PostCallField, text: str) -> Any | None:
    """The field's value in ``text``, or None when the answer does not fit."""
    if extract_value is not None:
        extracted = extract_value(field, text)
        return None if extracted is None else extracted.value
    # Minimal check used only without the analysis package.
    if field.type in (FieldType.INTEGER, FieldType.NUMBER, FieldType.MONEY):
        return text if any(ch.isdigit() for ch in text) else None
    return text.strip() or None


def _label(field: PostCallField) -> str:
    label = (field.description or field.name.replace("_", " ")).strip().rstrip(".")
    label = label[0].lower() + label[1:] if label else field.name
    return label


def _spoken(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


class ScriptedBrain(AgentBrain):
    async def start(self, context: AgentContext) -> None:
        self.context = context
        agent = context.campaign.agent
        self.fields = list(context.campaign.post_call.fields)
        self.allowed = set(context.allowed_keys())
        self.key_matcher = PhraseMatcher(
            {k: () for k in context.input_data}, threshold=90
        )
        self.goal = stems(agent.goal)
        self.field_words = stems(
            " ".join(f"{f.name.replace('_', ' ')} {f.description}" for f in self.fields)
            + " "
            + context.render(agent.instructions)
        )
        self.mode = "dialing"
        self.opened = False
        self.field_index = 0
        self.asked = False
        self.retried = False
        self.values: dict[str, Any] = {}
        self.confirming = False
        self.verification_answered = False
        self.verified = False
        self.ending = False
        self.tried_digits: dict[str, set[str]] = {}

    async def on_event(self, event: CallEvent, state: CallState) -> list[Action]:
        if self.ending:
            return []
        kind = event.type
        if kind is CallEventType.ANSWERED:
            return self._answered(event.answered_by)
        if kind is CallEventType.BEEP:
            return self._beep()
        if kind is CallEventType.HOLD:
            self.mode = "hold"
            return []
        if kind is CallEventType.RESUMED:
            self.mode = "human"
            return []
        if kind is CallEventType.SPEECH and event.text:
            return self._heard(event.text)
        return []

    # --- who picked up ----------------------------------------------------

    def _answered(self, answered_by: AnsweredBy | None) -> list[Action]:
        if answered_by is AnsweredBy.MACHINE:
            self.mode = "machine"
            if self.context.campaign.agent.voicemail.action == "hang_up":
                return self._end(EndReason.VOICEMAIL)
            return []
        self.mode = "ivr" if answered_by is AnsweredBy.IVR else "human"
        return []

    def _beep(self) -> list[Action]:
        voicemail = self.context.campaign.agent.voicemail
        if voicemail.action == "hang_up":
            return self._end(EndReason.VOICEMAIL)
        self.ending = True
        return [
            LeaveVoicemail(self.context.render(voicemail.message)),
            EndCall(EndReason.VOICEMAIL),
        ]

    def _end(self, reason: EndReason, message: str | None = None) -> list[Action]:
        self.ending = True
        return [EndCall(reason, message)]

    # --- what was said ----------------------------------------------------------

    def _heard(self, text: str) -> list[Action]:
        if AFTER_HOURS.search(text):
            return self._end(EndReason.AFTER_HOURS)
        if self.mode == "machine" or self.mode == "hold":
            return []
        if self.mode == "ivr":
            return self._menu(text)
        if not self.opened:
            self.opened = True
            return [Say(self.context.render(self.context.campaign.agent.first_message))]
        return self._conversation(text)

    def _menu(self, text: str) -> list[Action]:
        options = menu_options(text)
        if not options:
            return []
        key = " ".join(sorted(options.values()))
        tried = self.tried_digits.setdefault(key, set())
        digit = choose_menu_option(options, self.goal, self.field_words, tried)
        tried.add(digit)
        return [Press(digit)]

    def _conversation(self, text: str) -> list[Action]:
        agent = self.context.campaign.agent
        if DO_NOT_CALL.search(text):
            return self._end(EndReason.DO_NOT_CALL, DNC_MESSAGE)
        if WRONG_NUMBER.search(text):
            return self._end(EndReason.WRONG_NUMBER, WRONG_NUMBER_MESSAGE)
        if REFUSAL.search(text):
            return self._end(EndReason.VERIFICATION_FAILED, REFUSED_MESSAGE)
        if GOODBYE.search(text):
            return self._end(EndReason.COMPLETED, "Goodbye.")
        if TRANSFER_REQUEST.search(text):
            if agent.transfer_number:
                self.ending = True
                return [
                    Transfer(agent.transfer_number, "Of course, I'll transfer you now.")
                ]
            return [
                Say(
                    "I'm sorry, I'm not able to transfer this call, "
                    "but I only have a few quick questions. "
                    + self._question(again=False)
                )
            ]
        if TRANSFER_OFFER.search(text):
            return []

        # While waiting for an answer, only a real question counts as a request
        # for data: answers often name the thing they answer ("policy number ...").
        concept = None
        if not self.asked or "?" in text:
            concept = requested_concept(text, self.key_matcher)
        if concept is not None:
            return [Say(self._verification_answer(*concept))]

        actions: list[Action] = []
        if self.verification_answered and not self.verified:
            if MISMATCH.search(text):
                return []
            if VERIFIED.search(text):
                self.verified = True
                actions.append(MarkVerified())

        if STILL_THERE.search(text):
            return [*actions, Say("Yes, I'm here. " + self._question(again=True))]
        if self.confirming:
            return self._end(
                EndReason.COMPLETED, self.context.render(agent.end_message)
            )
        if self.asked:
            actions.extend(self._take_answer(text))
        return [*actions, *self._next()]

    def _verification_answer(self, concept: str, keys: tuple[str, ...]) -> str:
        self.verification_answered = True
        if concept == "agent_name":
            return f"My name is {self.context.campaign.agent.name}."
        for key in keys:
            if key in self.allowed:
                label = concept.replace("_", " ")
                return f"The {label} is {self.context.input_data[key]}."
        return NOT_AVAILABLE

    # --- asking for the fields -------------------------------------------------

    def _question(self, *, again: bool) -> str:
        if self.field_index >= len(self.fields):
            return ""
        field = self.fields[self.field_index]
        self.asked = True
        if again:
            label = _label(field)
            return f"Sorry, I didn't quite catch that. Could you repeat the {label}?"
        return field.question

    def _take_answer(self, text: str) -> list[Action]:
        field = self.fields[self.field_index]
        if NOT_KNOWN.search(text):
            self._advance()
            return []
        value = parse_answer(field, text)
        if value is None and not self.retried:
            self.retried = True
            return []
        self.values[field.name] = value
        self._advance()
        return [RecordAnswer(field.name, value)]

    def _advance(self) -> None:
        self.field_index += 1
        self.asked = False
        self.retried = False

    def _next(self) -> list[Action]:
        if self.asked and self.retried:
            return [Say(self._question(again=True))]
        if self.field_index < len(self.fields):
            return [Say(self._question(again=False))]
        heard = [
            f"{_label(f)}: {_spoken(self.values[f.name])}"
            for f in self.fields
            if self.values.get(f.name) is not None
        ]
        if heard:
            self.confirming = True
            return [Say("Just to confirm, " + "; ".join(heard) + ". Is that correct?")]
        return self._end(
            EndReason.COMPLETED,
            self.context.render(self.context.campaign.agent.end_message),
        )
