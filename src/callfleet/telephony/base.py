"""The telephony provider interface: place a call, stream its events, act on it.

A provider reports everything that happens on a call as ``CallEvent`` values,
including a failure to dial, so that the engine never has to read logs to know
how an attempt ended. Codes are SIP-like (486 busy, 603 declined, 480/503
unavailable, 404 not found, 408 no answer) and are kept on the call log.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CallEventType(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    SPEECH = "speech"  # the far end said something
    DIGITS = "digits"  # the far end sent DTMF (rare; agents press, callees may too)
    HOLD = "hold"  # the far end put the call on hold (text: hold message)
    RESUMED = "resumed"  # back from hold
    BEEP = "beep"  # voicemail beep: recording starts
    ENDED = "ended"  # the call is over (always the last event)


class AnsweredBy(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"  # answering machine / voicemail
    IVR = "ivr"  # automated menu
    UNKNOWN = "unknown"


class EndedBy(StrEnum):
    CALLEE = "callee"
    AGENT = "agent"
    NETWORK = "network"  # the call never connected, or was dropped


@dataclass(frozen=True, slots=True)
class CallEvent:
    type: CallEventType
    at_s: float = 0.0  # simulated seconds since dialling started
    text: str | None = None
    digits: str | None = None
    answered_by: AnsweredBy | None = None
    code: int | None = None  # raw provider code, SIP-like, on ENDED
    reason: str | None = None  # raw provider reason, on ENDED
    ended_by: EndedBy | None = None
    duration_s: float = 0.0  # how long the event lasted (speech, hold), if known


@dataclass(slots=True)
class CallRequest:
    call_id: str  # our call log id, as text
    to_number: str  # E.164
    from_number: str  # E.164 caller id
    attempt: int
    target_id: str
    campaign_id: str
    input_data: dict[str, Any] = field(default_factory=dict)
    max_duration_s: float = 900.0
    options: dict[str, Any] = field(default_factory=dict)  # provider settings


class CallSession(abc.ABC):
    """One live call. ``next_event`` is awaited turn by turn until ENDED."""

    provider_call_id: str = ""

    @abc.abstractmethod
    async def next_event(self) -> CallEvent:
        """The next thing the far end or the network did. After ENDED, keeps
        returning the same ENDED event."""

    @abc.abstractmethod
    async def say(self, text: str) -> None:
        """The agent speaks (text-to-speech on a real line)."""

    @abc.abstractmethod
    async def press(self, digits: str) -> None:
        """The agent sends DTMF digits."""

    @abc.abstractmethod
    async def transfer(self, number: str) -> None:
        """Hand the call to a human at ``number``; the session then ends."""

    @abc.abstractmethod
    async def hangup(self, reason: str = "agent_hangup") -> None:
        """The agent ends the call; ``next_event`` then returns ENDED."""

    def metadata(self) -> dict[str, Any]:
        """What the provider wants kept on the call log (the simulator: scenario
        name and the facts the far end held)."""
        return {}


class TelephonyProvider(abc.ABC):
    """Places calls. Implementations: ``simulator`` (the default), real trunks later."""

    name: str = "base"

    @abc.abstractmethod
    async def dial(self, request: CallRequest) -> CallSession:
        """Start a call. Never raises for call outcomes: a number that cannot be
        reached yields a session whose first event is ENDED with its code."""

    async def aclose(self) -> None:  # pragma: no cover - default has nothing to free
        return None
