"""Field extraction and summaries by the campaign's LLM, checked against the
fields' types, with the rule-based result as the fallback.

The LLM gets the transcript and a JSON Schema built from the fields; every value
it returns is brought to the same normalized form as the rule-based extractors
give. A value that does not fit its field is dropped in favour of the rule-based
one, and a reply that is not a JSON object (or no reply) drops the LLM entirely.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import structlog

from callfleet.analysis.extraction import FieldDetail, extract_value
from callfleet.campaigns.settings import FieldType, PostCallField
from callfleet.conversation import ConversationResult, Role
from callfleet.llm import LLMClient, LLMUnavailable

log = structlog.get_logger()

_JSON_TYPES = {
    FieldType.STRING: "string",
    FieldType.INTEGER: "integer",
    FieldType.NUMBER: "number",
    FieldType.MONEY: "number",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "string",
    FieldType.ENUM: "string",
    FieldType.PHONE: "string",
    FieldType.EMAIL: "string",
    FieldType.IDENTIFIER: "string",
}
_FORMAT_HINTS = {
    FieldType.DATE: "ISO date YYYY-MM-DD",
    FieldType.PHONE: "phone number in E.164, e.g. +12015550123",
    FieldType.EMAIL: "e-mail address",
    FieldType.IDENTIFIER: "identifier, letters and digits only",
    FieldType.MONEY: "amount as a number, e.g. 12.5",
}
_SYSTEM_PROMPT = (
    "You read the transcript of a phone call made by an agent and extract the "
    "data the callee gave. Reply with one JSON object that follows the schema. "
    "Use null for anything the callee did not clearly say; never guess."
)
_SUMMARY_PROMPT = (
    "Summarize this phone call in two or three plain sentences: who answered, "
    "what was learned, and how the call ended. Reply with the summary only."
)
_CONFIDENCE_AGREED = 0.95
_CONFIDENCE_LLM_ONLY = 0.75


@dataclass(slots=True)
class LLMExtraction:
    details: dict[str, FieldDetail]
    method: str  # llm | rules_after_llm_failure
    notes: list[str] = field(default_factory=list)


def response_format(fields: Sequence[PostCallField]) -> dict[str, Any]:
    """An OpenAI ``response_format`` holding the JSON Schema of the fields."""
    properties: dict[str, Any] = {}
    for f in fields:
        prop: dict[str, Any] = {"type": [_JSON_TYPES[f.type], "null"]}
        if f.type is FieldType.ENUM:
            prop["enum"] = [*(f.values or []), None]
        if f.type is FieldType.DATE:
            prop["format"] = "date"
        description = " ".join(
            part
            for part in (f.description, f.question, _FORMAT_HINTS.get(f.type))
            if part
        )
        if description:
            prop["description"] = description
        properties[f.name] = prop
    schema = {
        "type": "object",
        "properties": properties,
        "required": [f.name for f in fields if f.required],
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": "post_call_fields", "schema": schema},
    }


def transcript_text(result: ConversationResult) -> str:
    names = {Role.AGENT: "agent", Role.CALLEE: "callee", Role.SYSTEM: "system"}
    return "\n".join(
        f"[{i}] {names[t.role]}: {t.content}" for i, t in enumerate(result.turns)
    )


def coerce(f: PostCallField, value: Any, *, call_date: date | None = None) -> Any:
    """The LLM's value in the field's normalized form, or None when it does not
    fit the field."""
    if value is None or isinstance(value, (list, dict)):
        return None
    if f.type is FieldType.STRING:
        text = " ".join(str(value).split())
        return text or None
    if f.type is FieldType.BOOLEAN and isinstance(value, bool):
        return value
    if f.type is FieldType.ENUM and value in (f.values or []):
        return value
    if isinstance(value, bool):
        return None
    if f.type is FieldType.INTEGER and isinstance(value, int):
        return value
    if f.type in (FieldType.NUMBER, FieldType.MONEY) and isinstance(
        value, (int, float)
    ):
        return round(float(value), 2) if f.type is FieldType.MONEY else value
    found = extract_value(f, str(value), call_date=call_date)
    return None if found is None else found.value


def _parse(content: str | None) -> dict[str, Any]:
    if not content:
        raise ValueError("empty reply")
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("reply is not a JSON object")
    return data


def _answer_turn(result: ConversationResult, name: str) -> tuple[int | None, str]:
    answers = [a for a in result.answers if a.field == name]
    if not answers:
        return None, ""
    return answers[-1].turn_index, answers[-1].text


async def llm_extract(
    llm: LLMClient,
    result: ConversationResult,
    fields: Sequence[PostCallField],
    rules: Mapping[str, FieldDetail],
    *,
    call_date: date | None = None,
) -> LLMExtraction:
    """Ask the LLM for every field; keep the rule-based value where the LLM has
    none or gives one that does not fit."""
    messages = [
        {"role": "system", "content": _SYSTEM_PROMPT},
        {"role": "user", "content": transcript_text(result)},
    ]
    try:
        reply = await llm.complete(messages, response_format=response_format(fields))
        data = _parse(reply.content)
    except (LLMUnavailable, ValueError) as exc:
        reason = exc.message if isinstance(exc, LLMUnavailable) else str(exc)
        log.warning("analysis.llm_extraction_failed", reason=reason[:200])
        note = f"extraction: LLM failed ({reason[:200]}), rule-based values used"
        return LLMExtraction(dict(rules), "rules_after_llm_failure", [note])

    details: dict[str, FieldDetail] = {}
    notes: list[str] = []
    for f in fields:
        raw_value = data.get(f.name)
        value = coerce(f, raw_value, call_date=call_date)
        rule = rules.get(f.name)
        if value is None:
            if raw_value is not None:
                notes.append(f"{f.name}: LLM value did not fit the field")
            if rule is not None:
                details[f.name] = rule
            continue
        if rule is not None and rule.value == value:
            details[f.name] = FieldDetail(
                value, rule.raw, _CONFIDENCE_AGREED, rule.turn, "llm"
            )
        else:
            turn, text = _answer_turn(result, f.name)
            details[f.name] = FieldDetail(
                value, text or str(raw_value), _CONFIDENCE_LLM_ONLY, turn, "llm"
            )
    return LLMExtraction(details, "llm", notes)


async def llm_summary(llm: LLMClient, result: ConversationResult) -> str | None:
    """The LLM's summary of the call, or None when it cannot give one."""
    messages = [
        {"role": "system", "content": _SUMMARY_PROMPT},
        {"role": "user", "content": transcript_text(result)},
    ]
    try:
        reply = await llm.complete(messages)
    except LLMUnavailable as exc:
        log.warning("analysis.llm_summary_failed", reason=exc.message[:200])
        return None
    text = (reply.content or "").strip()
    return text or None
