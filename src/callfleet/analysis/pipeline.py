"""Post-call analysis: from a finished conversation to the target's results.

``analyze`` runs offline with the rule-based extractors; ``analyze_async`` asks
the campaign's LLM for the fields and the summary when one is given, and falls
back to the offline path whenever the LLM fails.

Fields that could not be extracted are left out of ``post_call_data`` (never
written as null), so merging the data of several attempts keeps earlier values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import structlog

from callfleet.analysis.categorization import categorize, refine_disposition
from callfleet.analysis.extraction import (
    ExtractedValue,
    FieldDetail,
    cue_words,
    extract_value,
    is_name_field,
)
from callfleet.analysis.llm_extractor import llm_extract, llm_summary
from callfleet.analysis.qa import QAContext, score_call
from callfleet.analysis.summary import summarize
from callfleet.campaigns.settings import CampaignSettings, FieldType, PostCallField
from callfleet.conversation import ConversationResult, Role
from callfleet.llm import LLMClient

log = structlog.get_logger()

# A value found outside the answer to its own question (volunteered in another
# turn) counts only when the extractor is sure, and is trusted a little less.
_VOLUNTEERED_MIN_CONFIDENCE = 0.85
_VOLUNTEERED_FACTOR = 0.8


@dataclass(slots=True)
class Analysis:
    post_call_data: dict[str, Any]
    field_details: dict[str, dict[str, Any]]
    qa: dict[str, Any]
    category: str
    subcategory: str | None
    resolution: str
    outcome: str
    summary: str
    disposition: str
    extraction_method: str = "rules"  # rules | llm | rules_after_llm_failure
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def extract_fields(
    result: ConversationResult,
    fields: Sequence[PostCallField],
    *,
    call_date: date | None = None,
    region: str = "US",
) -> dict[str, FieldDetail]:
    """Each field's value from the callee's answers to its question, else from
    a callee turn that names the field ("my policy number is ...")."""
    by_field: dict[str, list[tuple[str, int]]] = {}
    for answer in result.answers:
        by_field.setdefault(answer.field, []).append((answer.text, answer.turn_index))
    callee_turns = [
        (i, t.content)
        for i, t in enumerate(result.turns)
        if t.role is Role.CALLEE and t.kind == "speech"
    ]

    details: dict[str, FieldDetail] = {}
    for f in fields:
        # the last answer that parses wins: callers correct themselves, and the
        # agent asks again when an answer did not parse
        for text, turn in reversed(by_field.get(f.name, [])):
            found = extract_value(f, text, call_date=call_date, region=region)
            if found is not None:
                details[f.name] = _detail(found, turn, "answer")
                break
        else:
            volunteered = _volunteered(f, callee_turns, call_date, region)
            if volunteered is not None:
                details[f.name] = volunteered
    _split_shared_answers(details, fields)
    return details


def _split_shared_answers(
    details: dict[str, FieldDetail], fields: Sequence[PostCallField]
) -> None:
    """When the same answer gave several free-text fields ("a 2015 honda civic"
    said for the make and again for the model), the words other fields took
    (the year) are set aside and the rest are shared in the order the fields
    were asked: a word each, the last field keeping the remaining words."""
    groups: dict[str, list[PostCallField]] = {}
    for f in fields:
        detail = details.get(f.name)
        if f.type is FieldType.STRING and detail is not None and not is_name_field(f):
            groups.setdefault(str(detail.value).lower(), []).append(f)
    for text, group in groups.items():
        if len(group) < 2:
            continue
        claimed = {
            str(d.raw).lower()
            for name, d in details.items()
            if name not in {f.name for f in group} and d.raw
        }
        words = [w for w in text.split() if w not in claimed]
        if len(words) < len(group):
            continue
        parts = [*words[: len(group) - 1], " ".join(words[len(group) - 1 :])]
        for f, word in zip(group, parts, strict=True):
            old = details[f.name]
            details[f.name] = FieldDetail(
                word, old.raw, round(old.confidence * 0.9, 2), old.turn, old.source
            )


def _detail(found: ExtractedValue, turn: int | None, source: str) -> FieldDetail:
    return FieldDetail(found.value, found.raw, found.confidence, turn, source)


def _volunteered(
    f: PostCallField,
    callee_turns: list[tuple[int, str]],
    call_date: date | None,
    region: str,
) -> FieldDetail | None:
    cues = cue_words(f)
    if not cues:
        return None
    for index, text in callee_turns:
        lowered = text.lower()
        if not any(cue in lowered for cue in cues):
            continue
        found = extract_value(f, text, call_date=call_date, region=region)
        if found is not None and found.confidence >= _VOLUNTEERED_MIN_CONFIDENCE:
            confidence = round(found.confidence * _VOLUNTEERED_FACTOR, 2)
            return FieldDetail(found.value, found.raw, confidence, index, "transcript")
    return None


def _finish(
    result: ConversationResult,
    settings: CampaignSettings,
    input_data: Mapping[str, Any],
    details: Mapping[str, FieldDetail],
    *,
    summary: str | None = None,
    method: str = "rules",
    notes: list[str] | None = None,
) -> Analysis:
    fields = settings.post_call.fields
    collected = {name: d.value for name, d in details.items()}
    categorization = categorize(result, fields, collected)
    qa = score_call(
        result,
        settings.qa,
        QAContext(
            fields=fields,
            collected=collected,
            input_data=input_data,
            verification_keys=settings.agent.verification_keys,
            scripted_keys=settings.scripted_variables(),
        ),
    )
    if summary is None:
        summary = (
            summarize(result, fields, collected, categorization.outcome)
            if settings.post_call.summary
            else ""
        )
    disposition = refine_disposition(result, fields, collected)
    return Analysis(
        post_call_data=collected,
        field_details={name: asdict(d) for name, d in details.items()},
        qa=qa.to_dict(),
        category=str(categorization.category),
        subcategory=(
            None
            if categorization.subcategory is None
            else str(categorization.subcategory)
        ),
        resolution=str(categorization.resolution),
        outcome=str(categorization.outcome),
        summary=summary,
        disposition=str(disposition),
        extraction_method=method,
        notes=notes or [],
    )


def analyze(
    result: ConversationResult,
    settings: CampaignSettings,
    input_data: Mapping[str, Any],
    *,
    call_date: date | None = None,
) -> Analysis:
    """Offline analysis of one attempt: rule-based extraction, QA, category,
    summary and the refined disposition."""
    details = extract_fields(
        result,
        settings.post_call.fields,
        call_date=call_date,
        region=settings.phone_region or "US",
    )
    return _finish(result, settings, input_data, details)


async def analyze_async(
    result: ConversationResult,
    settings: CampaignSettings,
    input_data: Mapping[str, Any],
    *,
    call_date: date | None = None,
    llm: LLMClient | None = None,
) -> Analysis:
    """Like ``analyze``, with the LLM extracting fields and writing the summary
    when one is given; any LLM failure falls back to the offline result."""
    if llm is None or (
        not settings.post_call.fields and not settings.post_call.summary
    ):
        return analyze(result, settings, input_data, call_date=call_date)

    region = settings.phone_region or "US"
    fields = settings.post_call.fields
    rules = extract_fields(result, fields, call_date=call_date, region=region)
    notes: list[str] = []
    method = "rules"
    details: dict[str, FieldDetail] = dict(rules)
    if fields:
        outcome = await llm_extract(llm, result, fields, rules, call_date=call_date)
        details, method = outcome.details, outcome.method
        notes.extend(outcome.notes)

    summary = None
    if settings.post_call.summary:
        summary = await llm_summary(llm, result)
        if summary is None:
            notes.append("summary: LLM unavailable, offline summary used")
    return _finish(
        result,
        settings,
        input_data,
        details,
        summary=summary,
        method=method,
        notes=notes,
    )
