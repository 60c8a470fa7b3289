"""The LLM brain: an OpenAI-compatible chat model decides what to say, with
tools for the phone actions. Voicemail and the opening line stay scripted, so
the model is only asked when a person or a menu is talking."""

from __future__ import annotations

import json
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
from callfleet.agent.context import AgentContext
from callfleet.llm import (
    LLMClient,
    LLMUnavailable,
    OpenAICompatibleClient,
    function_tool,
)
from callfleet.telephony.base import AnsweredBy, CallEvent, CallEventType

log = structlog.get_logger()

APOLOGY = (
    "I'm sorry, I'm having technical difficulties. We'll call back later. Goodbye."
)

TOOLS = [
    function_tool(
        "press_digits",
        "Press keypad digits to navigate an automated phone menu.",
        {"digits": {"type": "string", "description": "Digits, * or #."}},
        ["digits"],
    ),
    function_tool(
        "end_call",
        "Hang up. Say goodbye in your message first.",
        {
            "reason": {
                "type": "string",
                "enum": [
                    "completed",
                    "do_not_call",
                    "wrong_number",
                    "after_hours",
                    "verification_failed",
                    "no_progress",
                ],
            }
        },
        ["reason"],
    ),
    function_tool(
        "record_field",
        "Record the value the callee just gave for one of the fields to collect.",
        {"name": {"type": "string"}, "value": {"type": "string"}},
        ["name", "value"],
    ),
    function_tool(
        "transfer",
        "Transfer the call to a human at the given number.",
        {"number": {"type": "string"}},
        ["number"],
    ),
    function_tool(
        "mark_verified",
        "The callee confirmed that your identity or the member was verified.",
        {},
        [],
    ),
]


def system_prompt(context: AgentContext) -> str:
    agent = context.campaign.agent
    lines = [
        f"You are {agent.name}, a voice agent on an outbound phone call for "
        f"{context.campaign.name}. Speak briefly, one or two sentences per turn.",
    ]
    instructions = context.render(agent.instructions)
    if instructions:
        lines.append(f"Instructions: {instructions}")
    lines.append(f"When an automated menu answers, aim for: {agent.goal}.")
    fields = context.campaign.post_call.fields
    if fields:
        lines.append("Collect these fields, asking one question at a time:")
        for field in fields:
            hint = f" ({field.description})" if field.description else ""
            allowed = f" one of {', '.join(field.values)}" if field.values else ""
            lines.append(f"- {field.name}{hint}: {field.type.value}{allowed}")
        lines.append("Call record_field as soon as the callee gives a value.")
    allowed_keys = context.allowed_keys()
    if allowed_keys:
        lines.append(
            "You may give only this data when asked to verify; say you don't have "
            "anything else:"
        )
        lines.extend(f"- {key}: {context.input_data[key]}" for key in allowed_keys)
    else:
        lines.append("You have no data to give for verification.")
    if agent.transfer_number:
        lines.append(
            f"If the callee asks for a human, transfer to {agent.transfer_number}."
        )
    lines.append(
        "If asked not to call again or told it is a wrong number, apologize and "
        f"end the call. When done, say: {context.render(agent.end_message)}"
    )
    return "\n".join(lines)


class LLMBrain(AgentBrain):
    def __init__(self, client: LLMClient | None = None) -> None:
        self._client = client
        self._owns_client = client is None

    async def start(self, context: AgentContext) -> None:
        self.context = context
        if self._client is None:
            settings = context.campaign.agent.llm
            if settings is None:
                raise ValueError("the llm brain needs agent.llm settings")
            self._client = OpenAICompatibleClient(settings)
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": system_prompt(context)}
        ]
        self.mode = "dialing"
        self.opened = False
        self.ending = False
        self.field_names = {f.name for f in context.campaign.post_call.fields}

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()

    async def on_event(self, event: CallEvent, state: CallState) -> list[Action]:
        if self.ending:
            return []
        kind = event.type
        if kind is CallEventType.ANSWERED:
            self.mode = {
                AnsweredBy.MACHINE: "machine",
                AnsweredBy.IVR: "ivr",
            }.get(event.answered_by, "human")
            if self.mode == "machine" and self._hangs_up_on_voicemail():
                self.ending = True
                return [EndCall(EndReason.VOICEMAIL)]
            return []
        if kind is CallEventType.BEEP:
            self.ending = True
            if self._hangs_up_on_voicemail():
                return [EndCall(EndReason.VOICEMAIL)]
            message = self.context.render(self.context.campaign.agent.voicemail.message)
            return [LeaveVoicemail(message), EndCall(EndReason.VOICEMAIL)]
        if kind is CallEventType.HOLD:
            self.messages.append({"role": "user", "content": "(you are on hold)"})
            return []
        if kind is CallEventType.RESUMED:
            self.mode = "human"
            return []
        if kind is not CallEventType.SPEECH or not event.text or self.mode == "machine":
            return []

        if self.mode == "human" and not self.opened:
            self.opened = True
            first = self.context.render(self.context.campaign.agent.first_message)
            self.messages.append({"role": "user", "content": event.text})
            self.messages.append({"role": "assistant", "content": first})
            return [Say(first)]
        prefix = "(automated menu) " if self.mode == "ivr" else ""
        self.messages.append({"role": "user", "content": prefix + event.text})
        return await self._ask()

    def _hangs_up_on_voicemail(self) -> bool:
        return self.context.campaign.agent.voicemail.action == "hang_up"

    async def _ask(self) -> list[Action]:
        assert self._client is not None
        try:
            reply = await self._client.complete(self.messages, tools=TOOLS)
        except LLMUnavailable as exc:
            log.warning("agent.llm_unavailable", error=exc.message)
            self.ending = True
            return [
                EndCall(EndReason.ERROR, message=APOLOGY, error=f"LLM: {exc.message}")
            ]

        assistant: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            assistant["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": json.dumps(call.arguments),
                    },
                }
                for call in reply.tool_calls
            ]
        self.messages.append(assistant)

        actions: list[Action] = []
        ending: list[Action] = []
        for call in reply.tool_calls:
            outcome = "ok"
            args = call.arguments
            if call.name == "press_digits" and str(args.get("digits", "")).strip():
                actions.append(Press(str(args["digits"]).strip()))
            elif call.name == "record_field" and args.get("name") in self.field_names:
                actions.append(RecordAnswer(str(args["name"]), args.get("value")))
            elif call.name == "mark_verified":
                actions.append(MarkVerified())
            elif call.name == "transfer" and args.get("number"):
                ending = [Transfer(str(args["number"]))]
            elif call.name == "end_call":
                try:
                    reason = EndReason(args.get("reason", "completed"))
                except ValueError:
                    reason = EndReason.COMPLETED
                ending = [EndCall(reason)]
            else:
                outcome = f"error: unknown tool or bad arguments for {call.name}"
            self.messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": outcome}
            )

        if reply.content and reply.content.strip():
            actions.insert(0, Say(reply.content.strip()))
        if ending:
            self.ending = True
            actions.extend(ending)
        return actions
