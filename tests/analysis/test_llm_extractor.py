import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from callfleet.analysis import analyze_async
from callfleet.analysis.llm_extractor import response_format
from callfleet.campaigns.settings import CampaignSettings, Disposition, LLMSettings
from callfleet.conversation import CollectedAnswer, ConversationResult, Role, Turn
from callfleet.llm import OpenAICompatibleClient
from callfleet.telephony.base import AnsweredBy, EndedBy


class ChatServer:
    """A chat-completions endpoint on 127.0.0.1 that answers what it is told."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, str]] = []
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                server.requests.append(json.loads(self.rfile.read(length)))
                status, content = server.replies.pop(0)
                body = json.dumps(
                    {
                        "choices": [
                            {"message": {"role": "assistant", "content": content}}
                        ]
                    }
                    if status == 200
                    else {"error": "boom"}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "ChatServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as running:
        yield running


def settings_for(url: str) -> CampaignSettings:
    return CampaignSettings.model_validate(
        {
            "name": "LLM campaign",
            "agent": {"llm": {"base_url": url, "model": "test", "timeout_s": 5}},
            "post_call": {
                "fields": [
                    {
                        "name": "claim_status",
                        "type": "enum",
                        "values": ["paid", "denied"],
                        "required": True,
                    },
                    {"name": "callback", "type": "phone"},
                    {"name": "paid_amount", "type": "money"},
                ]
            },
        }
    )


def call() -> ConversationResult:
    turns = [
        Turn(Role.AGENT, "Hello, this is Alex. What is the claim status?"),
        Turn(Role.CALLEE, "It's been paid, forty two fifty."),
        Turn(Role.AGENT, "Which number can we call back?"),
        Turn(Role.CALLEE, "two zero one five five five zero one two three"),
        Turn(Role.AGENT, "Thank you, goodbye."),
    ]
    return ConversationResult(
        disposition=Disposition.COMPLETED,
        turns=turns,
        answered_by=AnsweredBy.HUMAN,
        ended_by=EndedBy.AGENT,
        answers=[
            CollectedAnswer("claim_status", turns[1].content, 1),
            CollectedAnswer("callback", turns[3].content, 3),
        ],
    )


async def run(server: ChatServer) -> dict:
    settings = settings_for(server.url)
    assert settings.agent.llm is not None
    llm = OpenAICompatibleClient(settings.agent.llm)
    try:
        analysis = await analyze_async(call(), settings, {}, llm=llm)
    finally:
        await llm.aclose()
    return analysis.to_dict()


def test_schema_holds_types_enums_and_required() -> None:
    schema = response_format(settings_for("http://127.0.0.1:1/v1").post_call.fields)
    body = schema["json_schema"]["schema"]
    assert body["required"] == ["claim_status"]
    assert body["properties"]["claim_status"]["enum"] == ["paid", "denied", None]
    assert body["properties"]["paid_amount"]["type"] == ["number", "null"]
    assert body["additionalProperties"] is False


async def test_llm_values_are_validated_and_normalized(server: ChatServer) -> None:
    server.replies = [
        (
            200,
            json.dumps(
                {
                    "claim_status": "paid",
                    "callback": "(201) 555-0123",
                    "paid_amount": 42.5,
                }
            ),
        ),
        (200, "The claim was paid; the callee left a callback number."),
    ]
    analysis = await run(server)

    assert analysis["extraction_method"] == "llm"
    assert analysis["post_call_data"] == {
        "claim_status": "paid",
        "callback": "+12015550123",
        "paid_amount": 42.5,
    }
    assert analysis["field_details"]["callback"]["turn"] == 3
    assert (
        analysis["summary"] == "The claim was paid; the callee left a callback number."
    )
    request = server.requests[0]
    assert request["response_format"]["type"] == "json_schema"
    assert "two zero one" in request["messages"][1]["content"]


async def test_value_that_does_not_fit_keeps_the_rule_based_one(
    server: ChatServer,
) -> None:
    server.replies = [
        (200, json.dumps({"claim_status": "approved", "callback": None})),
        (200, "Summary."),
    ]
    analysis = await run(server)

    assert analysis["extraction_method"] == "llm"
    assert analysis["post_call_data"]["claim_status"] == "paid"  # from the rules
    assert analysis["post_call_data"]["callback"] == "+12015550123"
    assert any("claim_status" in note for note in analysis["notes"])


async def test_garbage_reply_falls_back_to_rules(server: ChatServer) -> None:
    server.replies = [(200, "I think it was paid?"), (500, "")]
    analysis = await run(server)

    assert analysis["extraction_method"] == "rules_after_llm_failure"
    assert analysis["post_call_data"]["claim_status"] == "paid"
    assert analysis["summary"].startswith("A person answered.")
    assert len(analysis["notes"]) == 2


async def test_unreachable_llm_falls_back_to_rules() -> None:
    settings = settings_for("http://127.0.0.1:9/v1")
    llm = OpenAICompatibleClient(
        LLMSettings(base_url="http://127.0.0.1:9/v1", model="x")
    )
    try:
        analysis = await analyze_async(call(), settings, {}, llm=llm)
    finally:
        await llm.aclose()
    assert analysis.extraction_method == "rules_after_llm_failure"
    assert analysis.post_call_data["callback"] == "+12015550123"
