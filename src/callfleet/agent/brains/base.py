"""The brain interface: the runtime feeds it call events, it answers with
actions. A brain keeps its own memory of the call; ``CallState`` is the
runtime's shared, read-only view (transcript, answers so far)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from callfleet.conversation import CollectedAnswer, Turn
from callfleet.telephony.base import AnsweredBy, CallEvent

if TYPE_CHECKING:
    from callfleet.agent.context import AgentContext


class EndReason(StrEnum):
    COMPLETED = "completed"
    DO_NOT_CALL = "do_not_call"
    WRONG_NUMBER = "wrong_number"
    AFTER_HOURS = "after_hours"
    VOICEMAIL = "voicemail"
    VERIFICATION_FAILED = "verification_failed"
    NO_PROGRESS = "no_progress"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Press:
    digits: str


@dataclass(frozen=True, slots=True)
class RecordAnswer:
    """The latest callee turn answers ``field``; ``value`` is the brain's own
    reading of it, if it has one."""

    field: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class MarkVerified:
    pass


@dataclass(frozen=True, slots=True)
class LeaveVoicemail:
    text: str


@dataclass(frozen=True, slots=True)
class Transfer:
    number: str
    message: str | None = None


@dataclass(frozen=True, slots=True)
class EndCall:
    reason: EndReason
    message: str | None = None  # said before hanging up
    error: str | None = None  # set for EndReason.ERROR


Action = Say | Press | RecordAnswer | MarkVerified | LeaveVoicemail | Transfer | EndCall


@dataclass(slots=True)
class CallState:
    turns: list[Turn] = field(default_factory=list)
    answered_by: AnsweredBy | None = None
    answers: list[CollectedAnswer] = field(default_factory=list)
    verified: bool = False
    now_s: float = 0.0

    def last_callee_text(self) -> str:
        for turn in reversed(self.turns):
            if turn.role == "callee":
                return turn.content
        return ""


class AgentBrain(abc.ABC):
    """Turn-based decisions for one call. A brain instance serves one call."""

    async def start(self, context: AgentContext) -> None:
        self.context = context

    @abc.abstractmethod
    async def on_event(self, event: CallEvent, state: CallState) -> list[Action]:
        """Actions to take after ``event`` (speech, IVR prompt, hold, beep...).
        An empty list means wait for the next event."""

    async def aclose(self) -> None:
        return None
