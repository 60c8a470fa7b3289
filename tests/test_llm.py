import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from callfleet.campaigns.settings import LLMSettings
from callfleet.llm import LLMUnavailable, OpenAICompatibleClient, function_tool

Responder = Callable[[dict[str, Any]], tuple[int, bytes]]


class ChatServer:
    """A chat-completions server on 127.0.0.1 whose replies the test chooses."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.respond: Responder = lambda body: (200, _reply({"content": "hi"}))
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                server.requests.append((dict(self.headers), body))
                if self.path != "/v1/chat/completions":
                    status, payload = 404, b"{}"
                else:
                    status, payload = server.respond(body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _reply(message: dict[str, Any]) -> bytes:
    return json.dumps(
        {"choices": [{"index": 0, "message": {"role": "assistant", **message}}]}
    ).encode()


@pytest.fixture
def server() -> Iterator[ChatServer]:
    chat = ChatServer()
    yield chat
    chat.close()


def _client(url: str, **extra: Any) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(
        LLMSettings(base_url=url, model="test-model", **extra)
    )


async def test_plain_reply_and_request_shape(server: ChatServer, monkeypatch) -> None:
    monkeypatch.setenv("TEST_LLM_KEY", "sekret")
    client = _client(server.url, api_key_env="TEST_LLM_KEY", temperature=0.3)

    reply = await client.complete([{"role": "user", "content": "hello"}])
    await client.aclose()

    assert reply.content == "hi"
    assert reply.tool_calls == []
    headers, body = server.requests[0]
    assert headers["Authorization"] == "Bearer sekret"
    assert body["model"] == "test-model"
    assert body["temperature"] == 0.3
    assert body["messages"] == [{"role": "user", "content": "hello"}]
    assert "tools" not in body


async def test_tool_calls_are_parsed(server: ChatServer) -> None:
    server.respond = lambda body: (
        200,
        _reply(
            {
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "press_digits",
                            "arguments": json.dumps({"digits": "2"}),
                        },
                    }
                ],
            }
        ),
    )
    tool = function_tool(
        "press_digits", "Press keys", {"digits": {"type": "string"}}, ["digits"]
    )
    client = _client(server.url)

    reply = await client.complete([{"role": "user", "content": "menu"}], tools=[tool])
    await client.aclose()

    assert reply.content is None
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("call_1", "press_digits", {"digits": "2"})
    ]
    assert server.requests[0][1]["tools"] == [tool]


async def test_response_format_is_passed_through(server: ChatServer) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}
    server.respond = lambda body: (200, _reply({"content": '{"a": 1}'}))
    client = _client(server.url)

    reply = await client.complete(
        [{"role": "user", "content": "x"}], response_format=fmt
    )
    await client.aclose()

    assert json.loads(reply.content or "") == {"a": 1}
    assert server.requests[0][1]["response_format"] == fmt


async def test_no_api_key_header_when_env_unset(
    server: ChatServer, monkeypatch
) -> None:
    monkeypatch.delenv("TEST_LLM_KEY", raising=False)
    client = _client(server.url, api_key_env="TEST_LLM_KEY")
    await client.complete([{"role": "user", "content": "x"}])
    await client.aclose()
    assert "Authorization" not in server.requests[0][0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_endpoint_down_raises_unavailable() -> None:
    client = _client(f"http://127.0.0.1:{_closed_port()}/v1")
    with pytest.raises(LLMUnavailable, match="unreachable"):
        await client.complete([{"role": "user", "content": "x"}])
    await client.aclose()


async def test_slow_endpoint_times_out(server: ChatServer) -> None:
    def slow(body: dict[str, Any]) -> tuple[int, bytes]:
        time.sleep(1.0)
        return 200, _reply({"content": "late"})

    server.respond = slow
    client = _client(server.url, timeout_s=0.1)
    with pytest.raises(LLMUnavailable, match="did not answer"):
        await client.complete([{"role": "user", "content": "x"}])
    await client.aclose()


async def test_server_error_raises_unavailable(server: ChatServer) -> None:
    server.respond = lambda body: (500, b'{"error": "boom"}')
    client = _client(server.url)
    with pytest.raises(LLMUnavailable, match="HTTP 500"):
        await client.complete([{"role": "user", "content": "x"}])
    await client.aclose()


@pytest.mark.parametrize(
    "payload",
    [
        b"not json at all",
        b'{"choices": []}',
        b'{"choices": [{"message": {"content": 5}}]}',
        _reply(
            {"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{"}}]}
        ),
        _reply(
            {"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "[1]"}}]}
        ),
        _reply({"tool_calls": [{"id": "a"}]}),
    ],
)
async def test_malformed_replies_raise_unavailable(
    server: ChatServer, payload: bytes
) -> None:
    server.respond = lambda body: (200, payload)
    client = _client(server.url)
    with pytest.raises(LLMUnavailable):
        await client.complete([{"role": "user", "content": "x"}])
    await client.aclose()
