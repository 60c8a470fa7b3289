"""Quality scoring of one call against the campaign's QA criteria.

Each criterion gives a pass/fail (or None when it cannot apply to this call), a
score between 0 and 1 and the turn it rests on. The call's score is the weighted
mean of the applicable criteria on a 0-100 scale; below the campaign's review
threshold the target goes to review.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rapidfuzz import fuzz

from callfleet.campaigns.settings import (
    BuiltinCheck,
    Disposition,
    PostCallField,
    QACriterion,
    QASettings,
)
from callfleet.conversation import ConversationResult, Role, Turn
from callfleet.telephony.base import AnsweredBy


@dataclass(slots=True)
class CriterionResult:
    name: str
    type: str
    weight: float
    passed: bool | None  # None: the criterion does not apply to this call
    score: float | None
    evidence: dict[str, Any] | None
    reason: str


@dataclass(slots=True)
class QAResult:
    score: float | None
    passed: bool | None
    review_required: bool
    threshold: float
    criteria: list[CriterionResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class QAContext:
    """What the checks read besides the transcript."""

    fields: Sequence[PostCallField]
    collected: Mapping[str, Any]  # field name -> extracted value
    input_data: Mapping[str, Any]
    verification_keys: Sequence[str] | None = None
    # input_data keys the campaign's own messages say (its templates): saying
    # them is what the campaign asked for, not a disclosure
    scripted_keys: frozenset[str] = frozenset()


_GREETING_RE = re.compile(
    r"\b(hello|hi|hey|good (?:morning|afternoon|evening|day)|greetings|"
    r"this is|my name is|thanks? for (?:taking|picking|answering))\b",
    re.I,
)
_POLITE_END_RE = re.compile(
    r"\b(thanks?|thank you|goodbye|good bye|bye|have a (?:good|great|nice|lovely) "
    r"(?:day|evening|afternoon|one|weekend)|take care)\b",
    re.I,
)
_VERIFY_REQUEST_RE = re.compile(
    r"\b(verify|verification|authenticate|confirm (?:the|your)|security|"
    r"date of birth|dob|npi|tax id|member id|"
    r"(?:can|could|may) i (?:get|have) (?:the|your))\b",
    re.I,
)
# input_data keys that name who the call is about; saying them is how the agent
# identifies the call, not a disclosure
_IDENTIFICATION_KEY_RE = re.compile(r"name|practice|company|organi[sz]ation|agent")
_LIVE_DISPOSITIONS = {
    Disposition.COMPLETED,
    Disposition.INCOMPLETE,
    Disposition.TRANSFERRED,
    Disposition.DO_NOT_CALL,
    Disposition.WRONG_NUMBER,
    Disposition.INTERRUPTED,
}


def _evidence(result: ConversationResult, index: int | None) -> dict[str, Any] | None:
    if index is None or not 0 <= index < len(result.turns):
        return None
    turn = result.turns[index]
    return {"turn": index, "role": str(turn.role), "text": turn.content}


def _speech(result: ConversationResult, role: Role) -> list[tuple[int, Turn]]:
    return [
        (i, t)
        for i, t in enumerate(result.turns)
        if t.role is role and t.kind == "speech" and t.content.strip()
    ]


def _had_conversation(result: ConversationResult) -> bool:
    if result.answered_by is AnsweredBy.MACHINE or result.voicemail_left:
        return False
    if result.disposition not in _LIVE_DISPOSITIONS:
        return False
    return bool(_speech(result, Role.CALLEE)) and bool(_speech(result, Role.AGENT))


_Check = tuple[bool | None, float | None, int | None, str]


def _greeting(result: ConversationResult, ctx: QAContext) -> _Check:
    agent_turns = _speech(result, Role.AGENT)
    first_answer = min((a.turn_index for a in result.answers), default=None)
    opening = [
        (i, t) for i, t in agent_turns if first_answer is None or i < first_answer
    ][:2] or agent_turns[:1]
    for index, turn in opening:
        if _GREETING_RE.search(turn.content):
            return True, 1.0, index, "the agent greeted the callee"
    return False, 0.0, opening[0][0], "the agent's opening has no greeting"


def _polite_end(result: ConversationResult, ctx: QAContext) -> _Check:
    index, turn = _speech(result, Role.AGENT)[-1]
    if _POLITE_END_RE.search(turn.content):
        return True, 1.0, index, "the agent ended with thanks or a goodbye"
    return False, 0.0, index, "the agent's last words hold no thanks or goodbye"


def _verification_start(result: ConversationResult) -> int | None:
    """Index of the turn where the callee first asked the agent to verify."""
    for index, turn in _speech(result, Role.CALLEE):
        if _VERIFY_REQUEST_RE.search(turn.content):
            return index
    return result.verified_at_turn if result.verified else None


def _verified_before_disclosure(result: ConversationResult, ctx: QAContext) -> _Check:
    asked_at = _verification_start(result)
    if asked_at is None:
        return True, 1.0, None, "the callee did not ask for verification"
    answers = sorted(result.answers, key=lambda a: a.turn_index)
    if not result.verified:
        if answers:
            first = answers[0]
            return (
                False,
                0.0,
                first.turn_index,
                f"'{first.field}' was recorded but verification never completed",
            )
        return True, 1.0, asked_at, "verification failed and nothing was recorded"
    verified_at = result.verified_at_turn if result.verified_at_turn is not None else -1
    early = [a for a in answers if a.turn_index <= verified_at]
    if early:
        return (
            False,
            0.0,
            early[0].turn_index,
            f"'{early[0].field}' was recorded before verification",
        )
    return True, 1.0, result.verified_at_turn, "every answer came after verification"


def _required_fields_collected(result: ConversationResult, ctx: QAContext) -> _Check:
    wanted = [f for f in ctx.fields if f.required]
    if not wanted:
        return None, None, None, "the campaign requires no field"
    missing = [f.name for f in wanted if ctx.collected.get(f.name) is None]
    share = (len(wanted) - len(missing)) / len(wanted)
    turns = [a.turn_index for a in result.answers if a.field not in missing]
    evidence_turn = max(turns) if turns else None
    if missing:
        reason = f"missing: {', '.join(missing)}"
    else:
        reason = f"all {len(wanted)} fields collected"
    return not missing, round(share, 4), evidence_turn, reason


def _comparable(value: Any) -> str:
    return re.sub(r"[^0-9a-z]", "", str(value).lower())


def _no_disclosure_to_unverified(result: ConversationResult, ctx: QAContext) -> _Check:
    keys = ctx.verification_keys
    protected = {
        key: _comparable(value)
        for key, value in ctx.input_data.items()
        if (keys is None or key in keys)
        and key not in ctx.scripted_keys
        and not _IDENTIFICATION_KEY_RE.search(key.lower())
        and value is not None
        and len(_comparable(value)) >= 3
    }
    if not protected:
        return True, 1.0, None, "no input data needs protecting"
    allowed_from = _verification_start(result)
    for index, turn in _speech(result, Role.AGENT):
        if allowed_from is not None and index >= allowed_from:
            break
        said = _comparable(turn.content)
        for key, value in protected.items():
            if value in said:
                return (
                    False,
                    0.0,
                    index,
                    f"the agent gave '{key}' before verification was asked",
                )
    return True, 1.0, None, "no input data was given before verification"


_BUILTINS = {
    BuiltinCheck.GREETING: _greeting,
    BuiltinCheck.VERIFIED_BEFORE_DISCLOSURE: _verified_before_disclosure,
    BuiltinCheck.REQUIRED_FIELDS_COLLECTED: _required_fields_collected,
    BuiltinCheck.NO_DISCLOSURE_TO_UNVERIFIED: _no_disclosure_to_unverified,
    BuiltinCheck.POLITE_END: _polite_end,
}


def _phrases(result: ConversationResult, criterion: QACriterion) -> _Check:
    role = Role.AGENT if criterion.speaker == "agent" else Role.CALLEE
    turns = _speech(result, role)
    if not turns:
        return None, None, None, f"the {criterion.speaker} said nothing"
    best = (0.0, turns[0][0], "")
    for index, turn in turns:
        text = turn.content.lower()
        for phrase in criterion.phrases:
            score = fuzz.partial_ratio(phrase.lower(), text) / 100
            if score > best[0]:
                best = (score, index, phrase)
    score, index, phrase = best
    passed = score >= 0.9
    if criterion.type == "pass_fail":
        score = 1.0 if passed else 0.0
    if passed:
        return True, round(score, 4), index, f"the {criterion.speaker} said '{phrase}'"
    return False, round(score, 4), None, f"the {criterion.speaker} said none of them"


def evaluate_criterion(
    result: ConversationResult, criterion: QACriterion, ctx: QAContext
) -> CriterionResult:
    def done(
        passed: bool | None, score: float | None, turn: int | None, reason: str
    ) -> CriterionResult:
        return CriterionResult(
            name=criterion.name,
            type=criterion.type,
            weight=criterion.weight,
            passed=passed,
            score=score,
            evidence=_evidence(result, turn),
            reason=reason,
        )

    if criterion.check is not None:
        if not _had_conversation(result):
            return done(None, None, None, "no conversation took place")
        return done(*_BUILTINS[criterion.check](result, ctx))
    if criterion.phrases:
        if not _had_conversation(result):
            return done(None, None, None, "no conversation took place")
        return done(*_phrases(result, criterion))
    # TODO: criteria judged from their description alone need an LLM reviewer;
    # offline they are left out of the score.
    return done(None, None, None, "needs an LLM reviewer")


def score_call(
    result: ConversationResult, settings: QASettings, ctx: QAContext
) -> QAResult:
    """Run every criterion and weigh the applicable ones into a 0-100 score."""
    criteria = [evaluate_criterion(result, c, ctx) for c in settings.criteria]
    return combine(criteria, settings.review_threshold)


def combine(criteria: list[CriterionResult], threshold: float) -> QAResult:
    applicable = [c for c in criteria if c.passed is not None and c.score is not None]
    total_weight = sum(c.weight for c in applicable)
    if not applicable or total_weight <= 0:
        return QAResult(None, None, False, threshold, criteria)
    score = round(100 * sum(c.weight * c.score for c in applicable) / total_weight, 1)
    passed = score >= threshold
    return QAResult(score, passed, not passed, threshold, criteria)
