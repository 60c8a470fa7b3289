"""A fake telephony provider with fixed outcomes per number or per attempt.

Meant for tests and benchmarks of the engine: it answers at once (or after
``delay_s`` of the injected clock), says a few fixed lines and hangs up, or ends
the call with the SIP-like code of the outcome asked for. It records every dial.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callfleet.campaigns.settings import TelephonySettings
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
from callfleet.telephony.registry import register_provider

NOT_CONNECTED_CODES: dict[str, tuple[int, str]] = {
    "no_answer": (408, "Request Timeout"),
    "busy": (486, "Busy Here"),
    "declined": (603, "Decline"),
    "invalid_number": (404, "Not Found"),
    "capacity": (503, "Service Unavailable"),
    "failed": (500, "Server Internal Error"),
}


@dataclass(frozen=True, slots=True)
class FakeOutcome:
    """How one fake call goes.

    ``kind`` is ``completed`` (a human answers and says ``lines``), ``voicemail``,
    ``dnc`` (the human asks not to be called again), one of the not-connected
    kinds in ``NOT_CONNECTED_CODES``, ``raise`` (``dial`` raises) or ``hang``
    (the call never produces another event).
    """

    kind: str = "completed"
    lines: tuple[str, ...] = ("Hello, who is this?", "Sure.", "Okay, goodbye.")
    delay_s: float = 0.0


DNC_LINES = ("Hello?", "Please stop calling me and put me on your do not call list.")


@dataclass(frozen=True, slots=True)
class Dial:
    request: CallRequest
    at: datetime
    outcome: FakeOutcome


@dataclass(slots=True)
class FakeProvider(TelephonyProvider):
    """``outcomes`` maps an E.164 number to one outcome, or to a list with one
    per call placed to it (the last repeats); other numbers get ``default``."""

    clock: Clock
    outcomes: Mapping[str, FakeOutcome | Sequence[FakeOutcome]] = field(
        default_factory=dict
    )
    default: FakeOutcome = field(default_factory=FakeOutcome)
    dials: list[Dial] = field(default_factory=list)
    name: str = "fake"

    def outcome_for(self, request: CallRequest) -> FakeOutcome:
        chosen = self.outcomes.get(request.to_number, self.default)
        if isinstance(chosen, FakeOutcome):
            return chosen
        placed = sum(1 for d in self.dials if d.request.to_number == request.to_number)
        return chosen[min(placed, len(chosen) - 1)]

    async def dial(self, request: CallRequest) -> CallSession:
        outcome = self.outcome_for(request)
        self.dials.append(Dial(request, self.clock.now(), outcome))
        if outcome.kind == "raise":
            raise ConnectionError("fake provider refused to dial")
        return FakeCall(request, outcome, self.clock)


class FakeCall(CallSession):
    def __init__(
        self, request: CallRequest, outcome: FakeOutcome, clock: Clock
    ) -> None:
        self.provider_call_id = f"fake-{request.call_id}"
        self.outcome = outcome
        self._clock = clock
        self._t = 0.0
        self._queue: deque[CallEvent] = deque()
        self._lines: deque[str] = deque()
        self._ended: CallEvent | None = None
        self._waited = False
        self.said: list[str] = []

        self._queue.append(CallEvent(CallEventType.RINGING))
        kind = outcome.kind
        if kind in NOT_CONNECTED_CODES:
            code, reason = NOT_CONNECTED_CODES[kind]
            self._queue.append(self._end_event(EndedBy.NETWORK, code, reason))
        elif kind == "voicemail":
            self._queue.append(
                CallEvent(
                    CallEventType.ANSWERED, at_s=2.0, answered_by=AnsweredBy.MACHINE
                )
            )
            self._lines.append("You have reached our voicemail, leave a message.")
        elif kind in ("completed", "dnc"):
            self._queue.append(
                CallEvent(
                    CallEventType.ANSWERED, at_s=2.0, answered_by=AnsweredBy.HUMAN
                )
            )
            self._lines.extend(DNC_LINES if kind == "dnc" else outcome.lines)
        elif kind != "hang":
            raise ValueError(f"unknown fake outcome {kind!r}")

    def _end_event(
        self, ended_by: EndedBy, code: int = 200, reason: str = "OK"
    ) -> CallEvent:
        self._t += 1.0
        return CallEvent(
            CallEventType.ENDED,
            at_s=self._t,
            code=code,
            reason=reason,
            ended_by=ended_by,
        )

    async def next_event(self) -> CallEvent:
        if self.outcome.kind == "hang":
            await asyncio.Event().wait()
        if not self._waited and self.outcome.delay_s > 0:
            self._waited = True
            await self._clock.sleep(self.outcome.delay_s)
        if self._queue:
            event = self._queue.popleft()
            if event.type is CallEventType.ENDED:
                self._ended = event
            return event
        if self._ended is not None:
            return self._ended
        if self._lines:
            self._t += 2.0
            return CallEvent(
                CallEventType.SPEECH, at_s=self._t, text=self._lines.popleft()
            )
        self._ended = self._end_event(EndedBy.CALLEE)
        return self._ended

    async def say(self, text: str) -> None:
        self.said.append(text)
        self._t += 1.0

    async def press(self, digits: str) -> None:
        self._t += 0.3

    async def transfer(self, number: str) -> None:
        self._queue.append(self._end_event(EndedBy.AGENT, 200, "transferred"))

    async def hangup(self, reason: str = "agent_hangup") -> None:
        if self._ended is None and not any(
            e.type is CallEventType.ENDED for e in self._queue
        ):
            self._queue.append(self._end_event(EndedBy.AGENT, 200, reason))

    def metadata(self) -> dict[str, Any]:
        return {"fake_outcome": self.outcome.kind}


def _factory(
    settings: TelephonySettings, *, clock: Clock, **options: Any
) -> TelephonyProvider:
    return FakeProvider(clock=clock, default=options.get("default", FakeOutcome()))


register_provider("fake", _factory)
