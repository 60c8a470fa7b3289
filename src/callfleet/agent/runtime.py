"""Plays one call: feeds the session's events to a brain, carries out its
actions, keeps the transcript and turns the way the call ended into a
disposition."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

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
from callfleet.campaigns.settings import Disposition
from callfleet.clock import Clock
from callfleet.conversation import CollectedAnswer, ConversationResult, Role, Turn
from callfleet.telephony.base import (
    AnsweredBy,
    CallEvent,
    CallEventType,
    CallSession,
    EndedBy,
)

log = structlog.get_logger()

WORDS_PER_SECOND = 2.5
WALL_MARGIN_S = 60.0

NOT_CONNECTED: dict[int, tuple[Disposition, str]] = {
    408: (Disposition.NO_ANSWER, "no-answer"),
    486: (Disposition.BUSY, "busy"),
    600: (Disposition.BUSY, "busy"),
    603: (Disposition.DECLINED, "declined"),
    404: (Disposition.INVALID_NUMBER, "invalid-number"),
    484: (Disposition.INVALID_NUMBER, "invalid-number"),
    410: (Disposition.INVALID_NUMBER, "invalid-number"),
    480: (Disposition.CAPACITY, "capacity"),
    503: (Disposition.CAPACITY, "capacity"),
    429: (Disposition.CAPACITY, "capacity"),
}

END_REASON_DISPOSITION: dict[EndReason, Disposition] = {
    EndReason.DO_NOT_CALL: Disposition.DO_NOT_CALL,
    EndReason.WRONG_NUMBER: Disposition.WRONG_NUMBER,
    EndReason.AFTER_HOURS: Disposition.AFTER_HOURS,
    EndReason.VOICEMAIL: Disposition.VOICEMAIL,
    EndReason.ERROR: Disposition.FAILED,
}


def _speech_s(text: str) -> float:
    return max(0.4, len(text.split()) / WORDS_PER_SECOND)


@dataclass(slots=True)
class _Run:
    state: CallState = field(default_factory=CallState)
    result: ConversationResult = field(
        default_factory=lambda: ConversationResult(disposition=Disposition.FAILED)
    )
    answered_at: float | None = None
    hold_started: float | None = None
    end_reason: EndReason | None = None
    limit: str | None = None  # max-duration-reached / max-turns-reached
    hung_up: bool = False
    agent_values: dict[str, object] = field(default_factory=dict)


async def run_conversation(
    session: CallSession,
    context: AgentContext,
    brain: AgentBrain,
    *,
    clock: Clock,
) -> ConversationResult:
    """Run the call to its end and describe it. Never raises for a failing
    brain: the call is hung up and the result carries ``error``."""
    run = _Run()
    max_duration = float(context.campaign.agent.max_duration_s)
    wall_limit = context.wall_timeout_s or max_duration + WALL_MARGIN_S
    started = clock.now()

    try:
        await brain.start(context)
        async with asyncio.timeout(wall_limit):
            await _play(session, context, brain, run, max_duration)
    except TimeoutError:
        log.warning(
            "call.wall_timeout", target_id=context.target_id, limit_s=wall_limit
        )
        run.limit = "max-duration-reached"
        await _hangup(session, run, "max duration")
        await _drain(session, run)
    except Exception as exc:  # a brain or provider bug must not kill the worker
        log.exception("call.agent_error", target_id=context.target_id)
        run.result.error = f"{type(exc).__name__}: {exc}"
        run.end_reason = EndReason.ERROR
        await _hangup(session, run, "agent error")
        await _drain(session, run)
    finally:
        try:
            await brain.aclose()
        except Exception:  # pragma: no cover - closing must not hide the result
            log.exception("call.brain_close_failed")

    result = _finish(session, run)
    log.info(
        "call.ended",
        target_id=context.target_id,
        attempt=context.attempt,
        disposition=result.disposition.value,
        ended_reason=result.ended_reason,
        duration_s=round(result.duration_s, 2),
        wall_s=round((clock.now() - started).total_seconds(), 3),
    )
    return result


async def _play(
    session: CallSession,
    context: AgentContext,
    brain: AgentBrain,
    run: _Run,
    max_duration: float,
) -> None:
    state = run.state
    # Every turn needs at least one event, plus a few per turn for hold and the
    # like; this bounds a far end that never stops talking.
    max_events = context.max_turns * 4 + 20
    for _ in range(max_events):
        event = await session.next_event()
        _observe(event, run)
        if event.type is CallEventType.ENDED:
            return
        if run.hung_up:
            continue
        if event.at_s + event.duration_s > max_duration:
            run.limit = "max-duration-reached"
            await _hangup(session, run, "max duration")
            continue
        if len(state.turns) >= context.max_turns:
            run.limit = "max-turns-reached"
            await _hangup(session, run, "max turns")
            continue

        actions = await brain.on_event(event, state)
        for action in actions:
            await _act(action, session, run, context)
            if run.hung_up:
                break
    run.limit = run.limit or "max-turns-reached"
    await _hangup(session, run, "too many events")
    await _drain(session, run)


async def _drain(session: CallSession, run: _Run) -> None:
    """Read the session up to its ENDED event (it comes right after hang-up)."""
    if run.result.provider_code is not None or run.result.ended_by is not None:
        return
    for _ in range(50):
        event = await session.next_event()
        _observe(event, run)
        if event.type is CallEventType.ENDED:
            return


def _observe(event: CallEvent, run: _Run) -> None:
    state, result = run.state, run.result
    end = event.at_s + event.duration_s
    if event.type is CallEventType.ANSWERED:
        run.answered_at = event.at_s
        state.answered_by = event.answered_by or AnsweredBy.UNKNOWN
        result.answered_by = state.answered_by
    elif event.type is CallEventType.SPEECH and event.text:
        start = event.at_s
        end = start + (event.duration_s or _speech_s(event.text))
        state.turns.append(Turn(Role.CALLEE, event.text, start, end, "speech"))
    elif event.type is CallEventType.DIGITS and event.digits:
        state.turns.append(Turn(Role.CALLEE, event.digits, event.at_s, end, "dtmf"))
    elif event.type is CallEventType.HOLD:
        run.hold_started = event.at_s
        state.turns.append(
            Turn(
                Role.SYSTEM,
                f"hold: {event.text or ''}".strip(),
                event.at_s,
                end,
                "event",
            )
        )
    elif event.type is CallEventType.RESUMED:
        if run.hold_started is not None:
            result.hold_s = round(result.hold_s + event.at_s - run.hold_started, 3)
            run.hold_started = None
        state.turns.append(
            Turn(Role.SYSTEM, "resumed", event.at_s, event.at_s, "event")
        )
    elif event.type is CallEventType.BEEP:
        state.turns.append(Turn(Role.SYSTEM, "beep", event.at_s, event.at_s, "event"))
    elif event.type is CallEventType.ENDED:
        result.provider_code = event.code
        result.provider_reason = event.reason
        result.ended_by = event.ended_by
        result.duration_s = max(event.at_s, state.now_s)
    state.now_s = max(state.now_s, end)


async def _act(
    action: Action, session: CallSession, run: _Run, context: AgentContext
) -> None:
    state, result = run.state, run.result
    if isinstance(action, Say | LeaveVoicemail):
        await _say(session, state, action.text)
        if isinstance(action, LeaveVoicemail):
            result.voicemail_left = True
    elif isinstance(action, Press):
        start = state.now_s
        await session.press(action.digits)
        state.now_s += 0.3 * len(action.digits)
        state.turns.append(Turn(Role.AGENT, action.digits, start, state.now_s, "dtmf"))
        result.ivr_digits.append(action.digits)
    elif isinstance(action, RecordAnswer):
        index = _last_callee_turn(state)
        if index is not None:
            answer = CollectedAnswer(action.field, state.turns[index].content, index)
            state.answers = [a for a in state.answers if a.field != action.field]
            state.answers.append(answer)
            if action.value is not None:
                run.agent_values[action.field] = action.value
    elif isinstance(action, MarkVerified):
        if not state.verified:
            state.verified = True
            result.verified = True
            result.verified_at_turn = _last_callee_turn(state)
    elif isinstance(action, Transfer):
        if action.message:
            await _say(session, state, action.message)
        state.turns.append(
            Turn(Role.SYSTEM, "transfer", state.now_s, state.now_s, "event")
        )
        await session.transfer(action.number)
        result.transferred = True
        run.hung_up = True
    elif isinstance(action, EndCall):
        if action.message:
            await _say(session, state, action.message)
        run.end_reason = action.reason
        if action.error:
            result.error = action.error
        await _hangup(session, run, action.reason.value)


async def _say(session: CallSession, state: CallState, text: str) -> None:
    start = state.now_s
    await session.say(text)
    state.now_s = start + _speech_s(text)
    state.turns.append(Turn(Role.AGENT, text, start, state.now_s, "speech"))


async def _hangup(session: CallSession, run: _Run, reason: str) -> None:
    if run.hung_up:
        return
    run.hung_up = True
    try:
        await session.hangup(reason)
    except Exception:  # pragma: no cover - the provider's problem, keep the result
        log.exception("call.hangup_failed")


def _last_callee_turn(state: CallState) -> int | None:
    for index in range(len(state.turns) - 1, -1, -1):
        if state.turns[index].role is Role.CALLEE:
            return index
    return None


def _finish(session: CallSession, run: _Run) -> ConversationResult:
    result, state = run.result, run.state
    result.turns = state.turns
    result.answers = sorted(state.answers, key=lambda a: a.turn_index)
    result.metadata = dict(session.metadata())
    if run.agent_values:
        result.metadata["agent_values"] = run.agent_values
    if run.answered_at is not None:
        result.talk_s = max(0.0, result.duration_s - run.answered_at)
    reason = run.end_reason
    result.dnc_requested = reason is EndReason.DO_NOT_CALL
    result.wrong_number = reason is EndReason.WRONG_NUMBER
    result.after_hours = reason is EndReason.AFTER_HOURS

    if result.error is not None or reason is EndReason.ERROR:
        result.disposition, result.ended_reason = Disposition.FAILED, "assistant-error"
        return result
    if run.answered_at is None:
        code = result.provider_code or 0
        result.disposition, result.ended_reason = NOT_CONNECTED.get(
            code, (Disposition.FAILED, "failed")
        )
        return result
    if result.transferred:
        result.disposition, result.ended_reason = Disposition.TRANSFERRED, "transferred"
        return result

    if reason in END_REASON_DISPOSITION:
        result.disposition = END_REASON_DISPOSITION[reason]
    elif result.answered_by is AnsweredBy.MACHINE:
        result.disposition = Disposition.VOICEMAIL
    else:
        result.disposition = Disposition.COMPLETED

    if run.limit:
        result.ended_reason = run.limit
    elif result.disposition is Disposition.VOICEMAIL:
        result.ended_reason = "voicemail"
    elif result.ended_by is EndedBy.CALLEE:
        result.ended_reason = "customer-ended-call"
    elif result.ended_by is EndedBy.AGENT:
        result.ended_reason = "assistant-ended-call"
    else:
        result.ended_reason = "call-dropped"
    return result
