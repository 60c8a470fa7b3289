"""One attempt from dial to record: place the call, let the agent converse,
post-process, then record everything and the target's next step at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callfleet.agent.brains import AgentBrain, create_brain
from callfleet.agent.context import AgentContext
from callfleet.agent.runtime import run_conversation
from callfleet.analysis.pipeline import Analysis, analyze_async
from callfleet.campaigns.settings import CampaignSettings, Disposition
from callfleet.clock import Clock
from callfleet.conversation import ConversationResult
from callfleet.db.engine import transaction
from callfleet.llm import LLMClient, OpenAICompatibleClient
from callfleet.logging import mask_phone
from callfleet.scheduling import repository
from callfleet.scheduling.attempts import AttemptReport, SettingsCache
from callfleet.scheduling.dispatcher import Claim
from callfleet.scheduling.lifecycle import NextStep
from callfleet.scheduling.recorder import Recorder
from callfleet.telephony.base import (
    CallEvent,
    CallEventType,
    CallRequest,
    CallSession,
    TelephonyProvider,
)
from callfleet.telephony.registry import create_provider

log = structlog.get_logger()

# Beyond the campaign's max call duration, time for dialling and hanging up.
DURATION_MARGIN_S = 60.0

ProviderFactory = Callable[[CampaignSettings], TelephonyProvider]
LLMFactory = Callable[[CampaignSettings], LLMClient | None]
BrainFactory = Callable[..., AgentBrain]
"""Called as ``factory(context, llm_client=...)``, like ``create_brain``."""


class ProviderCache:
    """One provider per distinct telephony settings, shared by their calls."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._providers: dict[str, TelephonyProvider] = {}

    def __call__(self, settings: CampaignSettings) -> TelephonyProvider:
        key = settings.telephony.model_dump_json()
        provider = self._providers.get(key)
        if provider is None:
            provider = create_provider(
                settings.telephony.provider, settings.telephony, clock=self.clock
            )
            self._providers[key] = provider
        return provider

    async def aclose(self) -> None:
        for provider in self._providers.values():
            try:
                await provider.aclose()
            except Exception:  # closing one must not keep the others open
                log.exception("provider.close_failed", provider=provider.name)
        self._providers.clear()


def default_llm(settings: CampaignSettings) -> LLMClient | None:
    if settings.agent.llm is None:
        return None
    return OpenAICompatibleClient(settings.agent.llm)


class _ObservedSession(CallSession):
    """Passes a call's events through and reports the answer as it happens, so
    that live views change on state changes only."""

    def __init__(
        self, inner: CallSession, on_answer: Callable[[CallEvent], Any]
    ) -> None:
        self.inner = inner
        self.provider_call_id = inner.provider_call_id
        self._on_answer = on_answer
        self._answered = False

    async def next_event(self) -> CallEvent:
        event = await self.inner.next_event()
        if event.type is CallEventType.ANSWERED and not self._answered:
            self._answered = True
            await self._on_answer(event)
        return event

    async def say(self, text: str) -> None:
        await self.inner.say(text)

    async def press(self, digits: str) -> None:
        await self.inner.press(digits)

    async def transfer(self, number: str) -> None:
        await self.inner.transfer(number)

    async def hangup(self, reason: str = "agent_hangup") -> None:
        await self.inner.hangup(reason)

    def metadata(self) -> dict[str, Any]:
        return self.inner.metadata()


class CallRunner:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        provider_factory: ProviderFactory,
        settings_cache: SettingsCache,
        llm_factory: LLMFactory = default_llm,
        brain_factory: BrainFactory = create_brain,
        margin_s: float = DURATION_MARGIN_S,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.provider_factory = provider_factory
        self.settings_cache = settings_cache
        self.llm_factory = llm_factory
        self.brain_factory = brain_factory
        self.margin_s = margin_s
        self.recorder = Recorder(
            sessionmaker, settings_cache=settings_cache, clock=clock
        )

    async def run(self, claim: Claim) -> NextStep | None:
        """Place and record one attempt. Every path records the attempt, so its
        concurrency slot is freed; only a cancelled runner leaves it to the
        sweeper (the lease then expires)."""
        bound = log.bind(
            campaign_id=claim.campaign_id,
            target_id=claim.target_id,
            call_log_id=claim.call_log_id,
        )
        limit = claim.settings.agent.max_duration_s + self.margin_s
        call = asyncio.ensure_future(self._call(claim, bound))
        timer = asyncio.ensure_future(self.clock.sleep(limit))
        try:
            await asyncio.wait({call, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not call.done():
                call.cancel()
                await asyncio.gather(call, return_exceptions=True)

        if call.cancelled():
            bound.warning("attempt.max_duration_exceeded", limit_s=limit)
            report = AttemptReport(
                Disposition.FAILED, ended_reason="max-duration-reached"
            )
        elif call.exception() is not None:
            error = call.exception()
            bound.error("attempt.runner_error", error=repr(error))
            report = AttemptReport(
                Disposition.FAILED,
                ended_reason="worker-error",
                provider_reason=f"{type(error).__name__}: {error}"[:200],
            )
        else:
            report = call.result()
        return await self.record(claim, report)

    async def record(self, claim: Claim, report: AttemptReport) -> NextStep | None:
        """Record the attempt (the call log, the target's next step, the webhook
        event) in one transaction, shared with other attempts ending meanwhile."""
        return await self.recorder.finish(claim.campaign_id, claim.call_log_id, report)

    async def _call(self, claim: Claim, bound: Any) -> AttemptReport:
        settings = claim.settings
        options: dict[str, Any] = {}
        scenario = claim.input_data.get("_scenario")
        if scenario:
            options["scenario"] = scenario
        request = CallRequest(
            call_id=str(claim.call_log_id),
            to_number=claim.to_number,
            from_number=claim.from_number,
            attempt=claim.attempt,
            target_id=claim.target_id,
            campaign_id=claim.campaign_id,
            input_data=claim.input_data,
            max_duration_s=float(settings.agent.max_duration_s),
            options=options,
        )
        provider = self.provider_factory(settings)
        bound.info("call.dialing", to=mask_phone(claim.to_number))
        try:
            session = await provider.dial(request)
        except Exception as exc:  # a provider bug still ends the attempt on record
            bound.warning("call.dial_failed", error=repr(exc))
            return AttemptReport(
                Disposition.FAILED,
                ended_reason="dial-failed",
                provider_reason=f"{type(exc).__name__}: {exc}"[:200],
                provider_data={"provider": provider.name},
            )

        async def answered(event: CallEvent) -> None:
            self.recorder.answered(
                claim.call_log_id,
                at=self.clock.now(),
                provider_call_id=session.provider_call_id or None,
                live_data={
                    "state": "in_progress",
                    "attempt": claim.attempt,
                    "answered_by": event.answered_by,
                },
            )

        observed = _ObservedSession(session, answered)
        # TODO: the target's pre_call_data and fallback_phone_number are not used
        # yet; the agent sees input_data only and every attempt dials the main
        # number.
        context = AgentContext(
            campaign=settings,
            input_data={k: v for k, v in claim.input_data.items() if k != "_scenario"},
            target_id=claim.target_id,
            attempt=claim.attempt,
        )
        llm = self.llm_factory(settings)
        try:
            brain = self.brain_factory(context, llm_client=llm)
            result = await run_conversation(observed, context, brain, clock=self.clock)
            if llm is not None:
                async with transaction(self.sessionmaker) as db:
                    await repository.mark_post_processing(
                        db, claim.call_log_id, claim.target_id, at=self.clock.now()
                    )
            analysis = await self._analyze(result, settings, claim, llm, bound)
        finally:
            if llm is not None:
                await llm.aclose()

        disposition = (
            Disposition(analysis.disposition)
            if analysis is not None
            else result.disposition
        )
        return AttemptReport(
            disposition,
            result=result,
            analysis=analysis,
            provider_data={
                "provider": provider.name,
                "provider_call_id": session.provider_call_id,
                **result.metadata,
            },
        )

    async def _analyze(
        self,
        result: ConversationResult,
        settings: CampaignSettings,
        claim: Claim,
        llm: LLMClient | None,
        bound: Any,
    ) -> Analysis | None:
        try:
            return await analyze_async(
                result,
                settings,
                claim.input_data,
                call_date=self.clock.now().date(),
                llm=llm,
            )
        except Exception as exc:  # the call happened; record it without analysis
            bound.exception("call.analysis_failed", error=repr(exc))
            return None
