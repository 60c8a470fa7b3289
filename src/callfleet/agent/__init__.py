"""The voice agent: a runtime that plays a call turn by turn and the brains
that decide what to say and do."""

from callfleet.agent.context import AgentContext
from callfleet.agent.runtime import run_conversation

__all__ = ["AgentContext", "run_conversation"]
