"""What the agent knows before the call starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from callfleet.campaigns.settings import CampaignSettings, render_template


@dataclass(slots=True)
class AgentContext:
    """The campaign, and the target's data merged with its pre-call data."""

    campaign: CampaignSettings
    input_data: dict[str, Any] = field(default_factory=dict)
    target_id: str = ""
    attempt: int = 1
    max_turns: int = 80
    wall_timeout_s: float | None = None  # real seconds; default from max_duration_s

    @property
    def template_context(self) -> dict[str, Any]:
        return {
            **self.input_data,
            "agent_name": self.campaign.agent.name,
            "campaign_name": self.campaign.name,
        }

    def render(self, source: str) -> str:
        if "{" not in source:
            return source.strip()
        return render_template(source, self.template_context)

    def allowed_keys(self) -> list[str]:
        """input_data keys the agent may give out to verify itself."""
        keys = self.campaign.agent.verification_keys
        present = [k for k, v in self.input_data.items() if v not in (None, "")]
        if keys is None:
            return present
        return [k for k in keys if k in present]
