"""A short account of one call: who answered, what was collected, how it ended.

The offline summary is deterministic, so the same call always reads the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from callfleet.analysis.categorization import Outcome
from callfleet.campaigns.settings import PostCallField
from callfleet.conversation import ConversationResult
from callfleet.telephony.base import AnsweredBy, EndedBy

_OPENINGS = {
    AnsweredBy.HUMAN: "A person answered",
    AnsweredBy.IVR: "An automated menu answered",
    AnsweredBy.MACHINE: "An answering machine picked up",
    AnsweredBy.UNKNOWN: "The call was answered",
}
_ENDINGS = {
    Outcome.DATA_RETRIEVED: "all required data was retrieved",
    Outcome.COMPLETED: "the conversation completed",
    Outcome.DATA_MISSING: "some required data is still missing",
    Outcome.DISCONNECTED: "the call was cut off before all data was collected",
    Outcome.VOICEMAIL_LEFT: "a voicemail message was left",
    Outcome.VOICEMAIL: "no message was left",
    Outcome.NO_ANSWER: "nobody answered",
    Outcome.BUSY: "the line was busy",
    Outcome.DECLINED: "the call was rejected",
    Outcome.INVALID_NUMBER: "the number cannot be dialled",
    Outcome.CAPACITY: "the carrier had no capacity",
    Outcome.FAILED: "the call failed for a technical reason",
    Outcome.INTERRUPTED: "the call was interrupted",
    Outcome.DNC_REQUESTED: "the callee asked not to be called again",
    Outcome.WRONG_NUMBER: "it was the wrong number",
    Outcome.AFTER_HOURS: "the office was closed",
    Outcome.TRANSFERRED: "the call was transferred",
    Outcome.IVR_LOOP: "the menu never reached a person",
    Outcome.HUMAN_ONLY: "the callee would only speak with a person",
    Outcome.VERIFICATION_FAILED: "the callee said the details did not match",
    Outcome.CONSENT_REQUIRED: "the callee needs the member's consent",
    Outcome.NOT_FOUND: "the callee found no matching record",
}
_MAX_VALUE_CHARS = 40


def _show(value: Any) -> str:
    text = str(value)
    if len(text) > _MAX_VALUE_CHARS:
        return text[: _MAX_VALUE_CHARS - 1] + "…"
    return text


def summarize(
    result: ConversationResult,
    fields: Sequence[PostCallField],
    collected: Mapping[str, Any],
    outcome: Outcome,
) -> str:
    """Two or three plain sentences about the call."""
    sentences: list[str] = []
    if result.answered_by is not None:
        sentences.append(_OPENINGS[result.answered_by] + ".")

    got = [f for f in fields if collected.get(f.name) is not None]
    missing = [f.name for f in fields if f.required and collected.get(f.name) is None]
    if got:
        listed = ", ".join(f"{f.name} = {_show(collected[f.name])}" for f in got)
        sentences.append(f"Collected {len(got)} of {len(fields)} fields: {listed}.")
    if missing:
        sentences.append(f"Missing: {', '.join(missing)}.")

    ending = _ENDINGS[outcome]
    if result.ended_by is EndedBy.CALLEE:
        seconds = round(result.talk_s or result.duration_s)
        sentences.append(f"The callee hung up after {seconds} s; {ending}.")
    else:
        sentences.append(f"Outcome: {ending}.")
    return " ".join(sentences)
