import json
import socket
from typing import Any

from callfleet.agent import AgentContext, run_conversation
from callfleet.agent.brains import create_brain
from callfleet.agent.brains.llm import APOLOGY, LLMBrain
from callfleet.campaigns.settings import (
    AgentSettings,
    CampaignSettings,
    Disposition,
    LLMSettings,
    PostCallField,
    PostCallSettings,
    SimulationSettings,
)
from callfleet.clock import FakeClock
from callfleet.conversation import ConversationResult, Role
from callfleet.telephony.base import CallRequest, EndedBy
from callfleet.telephony.simulator import SimulatorProvider

INPUT = {"member_id": "XZ-99812", "ssn": "123-45-6789"}


def tool(tool_name: str, **arguments: Any) -> dict[str, Any]:
    return {
        "id": f"call_{tool_name}",
        "type": "function",
        "function": {"name": tool_name, "arguments": json.dumps(arguments)},
    }


def settings(url: str, **agent: Any) -> CampaignSettings:
    return CampaignSettings(
        name="Claims",
        agent=AgentSettings(
            brain="llm",
            llm=LLMSettings(base_url=url, model="test", timeout_s=2),
            verification_keys=["member_id"],
            **agent,
        ),
        post_call=PostCallSettings(
            fields=[
                PostCallField(
                    name="claim_status",
                    type="enum",
                    values=["paid", "denied", "pending"],
                    question="What is the status of the claim?",
                )
            ]
        ),
    )


async def run(scenario: str, campaign: CampaignSettings) -> ConversationResult:
    clock = FakeClock(autojump=True)
    sim = SimulatorProvider(
        SimulationSettings(time_scale=0, scenarios={scenario: 1}), clock=clock
    )
    session = await sim.dial(
        CallRequest("1", "+12015550123", "+12015550100", 1, "t1", "c", dict(INPUT))
    )
    context = AgentContext(campaign, dict(INPUT), "t1")
    brain = create_brain(context)
    assert isinstance(brain, LLMBrain)
    return await run_conversation(session, context, brain, clock=clock)


async def test_llm_brain_follows_scripted_tool_calls(chat_server) -> None:
    chat_server.replies = [
        {"content": "Sure, the member ID is XZ-99812."},
        {
            "content": "What is the status of the claim?",
            "tool_calls": [tool("mark_verified")],
        },
        {
            "content": None,
            "tool_calls": [tool("record_field", name="claim_status", value="paid")],
        },
        {
            "content": "Thank you for your help. Goodbye.",
            "tool_calls": [tool("end_call", reason="completed")],
        },
    ]
    result = await run("cooperative", settings(chat_server.url))

    assert result.disposition is Disposition.COMPLETED
    assert result.verified
    assert [a.field for a in result.answers] == ["claim_status"]
    assert result.answers[0].text.startswith("The claim is")
    assert result.metadata["agent_values"] == {"claim_status": "paid"}
    assert result.ended_by is EndedBy.AGENT

    system = chat_server.requests[0]["messages"][0]["content"]
    assert "member_id: XZ-99812" in system
    assert "123-45-6789" not in system
    assert "claim_status" in system
    assert {t["function"]["name"] for t in chat_server.requests[0]["tools"]} == {
        "press_digits",
        "end_call",
        "record_field",
        "transfer",
        "mark_verified",
    }
    # Tool results go back to the model in protocol order.
    last = chat_server.requests[-1]["messages"]
    assert any(
        m["role"] == "tool" and m["tool_call_id"] == "call_mark_verified" for m in last
    )


async def test_llm_brain_presses_digits_in_an_ivr(chat_server) -> None:
    chat_server.replies = [
        {"content": None, "tool_calls": [tool("press_digits", digits="0")]},
        {
            "content": "Thanks, goodbye.",
            "tool_calls": [tool("end_call", reason="completed")],
        },
    ]
    result = await run("ivr", settings(chat_server.url))

    assert result.ivr_digits == ["0"]
    assert result.hold_s == 120
    assert "(automated menu)" in chat_server.requests[0]["messages"][-1]["content"]


async def test_llm_brain_do_not_call_reason_sets_the_disposition(chat_server) -> None:
    chat_server.replies = [
        {
            "content": "I'm sorry, we won't call again.",
            "tool_calls": [tool("end_call", reason="do_not_call")],
        },
    ]
    result = await run("do_not_call", settings(chat_server.url))
    assert result.disposition is Disposition.DO_NOT_CALL
    assert result.dnc_requested


async def test_endpoint_down_ends_the_call_cleanly_as_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await run("cooperative", settings(f"http://127.0.0.1:{port}/v1"))

    assert result.disposition is Disposition.FAILED
    assert result.error is not None and "unreachable" in result.error
    assert [t.content for t in result.turns if t.role is Role.AGENT][-1] == APOLOGY
    assert result.ended_by is EndedBy.AGENT
