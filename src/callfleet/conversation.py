"""What a finished call looks like to everything after it: the transcript and
the agent's own account of how the conversation went. Pure data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from callfleet.campaigns.settings import Disposition
from callfleet.telephony.base import AnsweredBy, EndedBy


class Role(StrEnum):
    AGENT = "agent"  # our voice agent
    CALLEE = "callee"  # the person, IVR or machine at the far end
    SYSTEM = "system"  # network events worth showing (hold, beep, transfer)


@dataclass(slots=True)
class Turn:
    role: Role
    content: str
    start_s: float = 0.0
    end_s: float = 0.0
    kind: str = "speech"  # speech | dtmf | event

    def as_prosper(self) -> dict[str, str]:
        """Prosper's transcript entry: string values only."""
        role = {"agent": "assistant", "callee": "user", "system": "system"}[self.role]
        return {
            "role": role,
            "content": self.content,
            "start_s": f"{self.start_s:.2f}",
            "end_s": f"{self.end_s:.2f}",
            "kind": self.kind,
        }


@dataclass(slots=True)
class CollectedAnswer:
    """What the callee said in answer to a post-call field's question."""

    field: str
    text: str
    turn_index: int  # index into ConversationResult.turns


@dataclass(slots=True)
class ConversationResult:
    disposition: Disposition
    turns: list[Turn] = field(default_factory=list)
    answered_by: AnsweredBy | None = None
    provider_code: int | None = None
    provider_reason: str | None = None
    ended_by: EndedBy | None = None
    ended_reason: str = ""  # e.g. customer-ended-call, assistant-ended-call, no-answer
    duration_s: float = 0.0  # from dial to hang-up
    talk_s: float = 0.0  # from answer to hang-up
    verified: bool = False
    verified_at_turn: int | None = None
    answers: list[CollectedAnswer] = field(default_factory=list)
    dnc_requested: bool = False
    wrong_number: bool = False
    transferred: bool = False
    voicemail_left: bool = False
    after_hours: bool = False
    ivr_digits: list[str] = field(default_factory=list)
    hold_s: float = 0.0
    error: str | None = None  # agent or brain failure, if any
    metadata: dict[str, Any] = field(default_factory=dict)  # from the provider

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
