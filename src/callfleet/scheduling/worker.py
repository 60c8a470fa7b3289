"""The worker process: dispatcher, call runners, lease heartbeat, sweeper and the
webhook delivery loop in one asyncio process. Any number of workers may share
one PostgreSQL database; on SQLite one of them claims at a time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callfleet.agent.brains import create_brain
from callfleet.campaigns.settings import Disposition
from callfleet.clock import Clock, SystemClock
from callfleet.config import Config
from callfleet.db.engine import create_engine, create_sessionmaker, transaction
from callfleet.scheduling import repository
from callfleet.scheduling.attempts import (
    AttemptReport,
    SettingsCache,
    complete_campaign_if_done,
)
from callfleet.scheduling.dispatcher import Claim, ClaimStats, Dispatcher
from callfleet.scheduling.runner import (
    DURATION_MARGIN_S,
    BrainFactory,
    CallRunner,
    LLMFactory,
    ProviderCache,
    ProviderFactory,
    default_llm,
)
from callfleet.scheduling.sweeper import Sweeper, SweepStats
from callfleet.telephony.simulator.scenario import load_scenario_paths

log = structlog.get_logger()

DEFAULT_MAX_CALLS = 200
SWEEP_INTERVAL_S = 5.0
STOP_WAIT_S = 30.0


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs attempts. ``step``, ``heartbeat`` and ``sweep`` each do one pass, so
    tests can drive the worker with a fake clock; ``run`` loops them."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        config: Config,
        clock: Clock,
        provider_factory: ProviderFactory | None = None,
        llm_factory: LLMFactory = default_llm,
        brain_factory: BrainFactory = create_brain,
        worker_id: str | None = None,
        max_calls: int = DEFAULT_MAX_CALLS,
        campaign_ids: list[str] | None = None,
        provider_calls_per_second: Mapping[str, float] | None = None,
        deliver_webhooks: bool = True,
        stop_wait_s: float = STOP_WAIT_S,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.config = config
        self.clock = clock
        self.worker_id = worker_id or config.worker_id or new_worker_id()
        self.max_calls = max_calls
        self.campaign_ids = campaign_ids
        self.deliver_webhooks = deliver_webhooks
        self.stop_wait_s = stop_wait_s
        self.settings_cache = SettingsCache()
        if config.scenario_paths:
            loaded = load_scenario_paths(config.scenario_paths)
            log.info("worker.scenarios_loaded", count=loaded)
        self._own_providers = provider_factory is None
        self.providers = provider_factory or ProviderCache(clock)
        self.dispatcher = Dispatcher(
            sessionmaker,
            worker_id=self.worker_id,
            lease_seconds=config.lease_seconds,
            settings_cache=self.settings_cache,
            provider_calls_per_second=provider_calls_per_second,
        )
        self.runner = CallRunner(
            sessionmaker,
            clock=clock,
            provider_factory=self.providers,
            settings_cache=self.settings_cache,
            llm_factory=llm_factory,
            brain_factory=brain_factory,
        )
        self.sweeper = Sweeper(
            sessionmaker,
            settings_cache=self.settings_cache,
            margin_s=DURATION_MARGIN_S,
            campaign_ids=campaign_ids,
        )
        self.live: dict[int, tuple[Claim, asyncio.Task[Any]]] = {}
        self._wake = asyncio.Event()
        self.log = log.bind(worker_id=self.worker_id)

    # -- one pass each ---------------------------------------------------------

    async def step(self) -> ClaimStats:
        """Claim what is due now (up to the free capacity) and start the calls."""
        capacity = self.max_calls - len(self.live)
        claims, stats = await self.dispatcher.claim(
            self.clock.now(), capacity, campaign_ids=self.campaign_ids
        )
        for claim in claims:
            task = asyncio.create_task(self._run(claim))
            self.live[claim.call_log_id] = (claim, task)
        # Targets ended without a call (suppressed, past their deadline) may have
        # been the last open ones of their campaign.
        for campaign_id in sorted(stats.ended_campaigns):
            await complete_campaign_if_done(
                self.sessionmaker, campaign_id, self.clock.now()
            )
        return stats

    async def _run(self, claim: Claim) -> None:
        try:
            await self.runner.run(claim)
        except Exception:  # recording failed: the lease runs out, the sweeper ends it
            self.log.exception(
                "attempt.record_failed",
                campaign_id=claim.campaign_id,
                target_id=claim.target_id,
                call_log_id=claim.call_log_id,
            )
        finally:
            self.live.pop(claim.call_log_id, None)
            self._wake.set()

    async def heartbeat(self) -> None:
        """Renew the leases of the live calls; a call whose lease was taken over
        (this worker stalled past it and the sweeper ended the attempt) stops."""
        ids = list(self.live)
        if not ids:
            return
        now = self.clock.now()
        async with transaction(self.sessionmaker) as session:
            renewed = await repository.renew_leases(
                session,
                self.worker_id,
                ids,
                now=now,
                until=now + timedelta(seconds=self.config.lease_seconds),
            )
        missing = sorted(set(ids) - renewed)
        if not missing:
            return
        async with self.sessionmaker() as session:
            lost = await repository.lost_attempts(session, self.worker_id, missing)
        for call_log_id in lost:
            entry = self.live.get(call_log_id)
            if entry is not None and not entry[1].done():
                self.log.warning("attempt.lease_lost", call_log_id=call_log_id)
                entry[1].cancel()

    async def sweep(self) -> SweepStats:
        return await self.sweeper.sweep(self.clock.now())

    async def wait_idle(self) -> None:
        """Wait until every live call of this worker is recorded."""
        while self.live:
            await asyncio.gather(
                *(task for _, task in list(self.live.values())), return_exceptions=True
            )

    # -- the loop --------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self.log.info("worker.started", max_calls=self.max_calls)
        loops = [
            asyncio.create_task(
                self._every(self.config.heartbeat_seconds, stop, self.heartbeat)
            ),
            asyncio.create_task(self._every(SWEEP_INTERVAL_S, stop, self.sweep)),
        ]
        delivery = None
        if self.deliver_webhooks:
            from callfleet.notifications.delivery import DeliveryWorker

            delivery = DeliveryWorker(
                self.sessionmaker, self.config, self.clock, worker_id=self.worker_id
            )
            loops.append(asyncio.create_task(delivery.run(stop)))
        try:
            await self._dispatch_loop(stop)
        finally:
            await self._drain()
            stop.set()
            await asyncio.gather(*loops, return_exceptions=True)
            await self.runner.recorder.aclose()
            if self._own_providers:
                await self.providers.aclose()  # type: ignore[union-attr]
            self.log.info("worker.stopped")

    async def _dispatch_loop(self, stop: asyncio.Event) -> None:
        poll = self.config.worker_poll_interval_s
        # While busy, claim in batches: one claim pass costs about the same for
        # one target as for many.
        batch = max(1, self.max_calls // 4)
        while not stop.is_set():
            free = self.max_calls - len(self.live)
            if free < batch and self.live:
                self._wake.clear()
                await _first(stop.wait(), self._wake.wait(), self.clock.sleep(poll))
                continue
            try:
                stats = await self.step()
            except Exception:  # a database hiccup must not end the worker
                self.log.exception("worker.claim_failed")
                stats = ClaimStats()
            if stats.claimed and len(self.live) < self.max_calls:
                await asyncio.sleep(0)
                continue
            self._wake.clear()
            await _first(stop.wait(), self._wake.wait(), self.clock.sleep(poll))

    async def _every(self, seconds: float, stop: asyncio.Event, action: Any) -> None:
        while not stop.is_set():
            try:
                await action()
            except Exception:
                self.log.exception("worker.periodic_failed", action=action.__name__)
            await _first(stop.wait(), self.clock.sleep(seconds))

    async def _drain(self) -> None:
        """Graceful stop: no new claims; live calls get a bounded time to finish,
        then the rest are cancelled and recorded as interrupted."""
        if not self.live:
            return
        self.log.info("worker.draining", live=len(self.live))
        tasks = [task for _, task in self.live.values()]
        heartbeat = asyncio.create_task(self._keep_leases())
        try:
            await asyncio.wait(tasks, timeout=self.stop_wait_s)
        finally:
            heartbeat.cancel()
        left = list(self.live.values())
        for _, task in left:
            task.cancel()
        await asyncio.gather(*(task for _, task in left), return_exceptions=True)
        for claim, _ in left:
            try:
                await self.runner.record(
                    claim,
                    AttemptReport(
                        Disposition.INTERRUPTED, ended_reason="worker-stopped"
                    ),
                )
            except Exception:
                self.log.exception(
                    "attempt.release_failed", call_log_id=claim.call_log_id
                )

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, self.config.heartbeat_seconds))
            with contextlib.suppress(Exception):
                await self.heartbeat()


async def _first(*awaitables: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def run_worker(
    config: Config,
    *,
    clock: Clock | None = None,
    provider_factory: ProviderFactory | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """``callfleet worker``: run until SIGINT or SIGTERM, then stop gracefully."""
    engine = create_engine(config.database_url)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        worker = Worker(
            create_sessionmaker(engine),
            config=config,
            clock=clock or SystemClock(),
            provider_factory=provider_factory,
        )
        await worker.run(stop)
    finally:
        await engine.dispose()


def worker_service(app: Any) -> Any:
    """``callfleet serve``: one worker for the API app's lifetime."""

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        stop = asyncio.Event()
        worker = Worker(
            app.state.sessionmaker, config=app.state.config, clock=app.state.clock
        )
        task = asyncio.create_task(worker.run(stop))
        try:
            yield
        finally:
            stop.set()
            await task

    return running()
