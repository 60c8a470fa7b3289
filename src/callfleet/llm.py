"""A small client for OpenAI-compatible chat-completions endpoints.

Any server that speaks ``POST {base_url}/chat/completions`` works: a local
llama.cpp or vLLM server, or a hosted one. Every failure surfaces as one
exception type, ``LLMUnavailable``, so callers handle a single case.
"""

from __future__ import annotations

import abc
import json
import os
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from callfleet.campaigns.settings import LLMSettings

log = structlog.get_logger()


class LLMUnavailable(Exception):
    """The endpoint could not give a usable reply (down, slow, error, garbage)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class LLMReply:
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)


class LLMClient(abc.ABC):
    """Chat completion with optional tools and structured output."""

    @abc.abstractmethod
    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> LLMReply:
        """One assistant reply; raises ``LLMUnavailable`` on any failure."""

    async def aclose(self) -> None:
        return None


def function_tool(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    """A tool definition in the OpenAI function-tool format."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
            },
        },
    }


class OpenAICompatibleClient(LLMClient):
    def __init__(
        self,
        settings: LLMSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        if settings.api_key_env:
            key = os.environ.get(settings.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_s),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> LLMReply:
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "temperature": self.settings.temperature,
        }
        if tools:
            body["tools"] = tools
        if response_format is not None:
            body["response_format"] = response_format

        response = await self._post(body)

        if response.status_code // 100 != 2:
            log.warning("llm.http_error", status=response.status_code)
            raise LLMUnavailable(
                f"LLM endpoint answered HTTP {response.status_code}: "
                f"{response.text[:200]}"
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise LLMUnavailable("LLM endpoint answered with malformed JSON") from exc
        return _parse_reply(payload)

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        # One quick retry on a refused or reset connection: a local server that is
        # restarting often comes back within a moment. Timeouts are not retried,
        # the caller's own deadline matters more.
        for attempt in (1, 2):
            try:
                return await self._http.post(self._url, json=body)
            except httpx.TimeoutException as exc:
                log.warning("llm.timeout", timeout_s=self.settings.timeout_s)
                raise LLMUnavailable(
                    f"LLM endpoint did not answer within {self.settings.timeout_s}s"
                ) from exc
            except httpx.TransportError as exc:
                if attempt == 2:
                    log.warning("llm.unreachable", error=type(exc).__name__)
                    raise LLMUnavailable(
                        f"LLM endpoint unreachable at {self._url}: {exc}"
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover


def _parse_reply(payload: Any) -> LLMReply:
    try:
        message = payload["choices"][0]["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMUnavailable("LLM reply has no choices[0].message") from exc
    if not isinstance(message, dict):
        raise LLMUnavailable("LLM reply message is not an object")

    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise LLMUnavailable("LLM reply content is not text")

    tool_calls: list[ToolCall] = []
    for index, raw in enumerate(message.get("tool_calls") or []):
        try:
            function = raw["function"]
            name = function["name"]
            arguments = function.get("arguments") or "{}"
        except (KeyError, TypeError) as exc:
            raise LLMUnavailable(f"LLM tool call {index} is malformed") from exc
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError as exc:
                raise LLMUnavailable(
                    f"LLM tool call {name!r} has arguments that are not JSON"
                ) from exc
        if not isinstance(arguments, dict):
            raise LLMUnavailable(f"LLM tool call {name!r} arguments are not an object")
        tool_calls.append(
            ToolCall(
                id=str(raw.get("id") or f"call_{index}"), name=name, arguments=arguments
            )
        )
    return LLMReply(content=content, tool_calls=tool_calls)
