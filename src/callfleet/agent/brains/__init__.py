"""Brains decide the agent's actions: ``scripted`` (offline) and ``llm``."""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from callfleet.agent.context import AgentContext
    from callfleet.llm import LLMClient

__all__ = [
    "Action",
    "AgentBrain",
    "CallState",
    "EndCall",
    "EndReason",
    "LeaveVoicemail",
    "MarkVerified",
    "Press",
    "RecordAnswer",
    "Say",
    "Transfer",
    "create_brain",
]


def create_brain(
    context: AgentContext, *, llm_client: LLMClient | None = None
) -> AgentBrain:
    """The brain the campaign's agent settings ask for."""
    if context.campaign.agent.brain == "llm":
        from callfleet.agent.brains.llm import LLMBrain

        return LLMBrain(client=llm_client)
    from callfleet.agent.brains.scripted import ScriptedBrain

    return ScriptedBrain()
