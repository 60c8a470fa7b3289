"""Group commit of a worker's writes: the attempts that ended while the previous
transaction was committing are recorded together in the next one, so a busy
worker pays one commit for many attempts instead of one each."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callfleet.clock import Clock
from callfleet.db.engine import transaction
from callfleet.scheduling import repository
from callfleet.scheduling.attempts import (
    AttemptReport,
    SettingsCache,
    complete_campaign_if_done,
    finish_attempts,
)
from callfleet.scheduling.lifecycle import NextStep

log = structlog.get_logger()

MAX_BATCH = 100
# Transactions in flight at once; on SQLite they queue for the write lock anyway.
WRITERS = 4


@dataclass(slots=True)
class _Finish:
    campaign_id: str
    call_log_id: int
    report: AttemptReport
    done: asyncio.Future[NextStep | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(slots=True)
class _Answered:
    call_log_id: int
    at: datetime
    provider_call_id: str | None
    live_data: dict[str, Any]


class Recorder:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        settings_cache: SettingsCache,
        clock: Clock,
        max_batch: int = MAX_BATCH,
        writers: int = WRITERS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings_cache = settings_cache
        self.clock = clock
        self.max_batch = max_batch
        # SQLite has one writer at a time; more would only wait on its lock.
        bind = sessionmaker.kw.get("bind")
        sqlite = bind is not None and bind.dialect.name == "sqlite"
        self.writers = 1 if sqlite else writers
        self._queue: asyncio.Queue[_Finish | _Answered] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def _ensure_running(self) -> None:
        if not self._tasks or any(task.done() for task in self._tasks):
            self._tasks = [t for t in self._tasks if not t.done()]
            while len(self._tasks) < self.writers:
                self._tasks.append(asyncio.create_task(self._loop()))

    async def finish(
        self, campaign_id: str, call_log_id: int, report: AttemptReport
    ) -> NextStep | None:
        """Record an attempt's end; returns once it is committed."""
        item = _Finish(campaign_id, call_log_id, report)
        self._queue.put_nowait(item)
        self._ensure_running()
        return await item.done

    def answered(
        self,
        call_log_id: int,
        *,
        at: datetime,
        provider_call_id: str | None,
        live_data: dict[str, Any],
    ) -> None:
        """Note that a call was answered; written with the next batch. A late
        write after the attempt was recorded changes nothing."""
        self._queue.put_nowait(_Answered(call_log_id, at, provider_call_id, live_data))
        self._ensure_running()

    async def aclose(self) -> None:
        if self._tasks:
            await self._queue.join()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []

    async def _loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad attempt must not fail the others: retry one by one.
                log.exception("recorder.batch_failed", size=len(batch))
                for item in batch:
                    try:
                        await self._write([item])
                    except Exception as exc:
                        log.exception("recorder.write_failed")
                        if isinstance(item, _Finish) and not item.done.done():
                            item.done.set_exception(exc)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[_Finish | _Answered]) -> None:
        now = self.clock.now()
        answered = [
            {
                "id": item.call_log_id,
                "answered_at": item.at,
                "provider_call_id": item.provider_call_id,
                "live_data": item.live_data,
            }
            for item in batch
            if isinstance(item, _Answered)
        ]
        finishes = [item for item in batch if isinstance(item, _Finish)]
        async with transaction(self.sessionmaker) as session:
            if answered:
                await repository.mark_answered_many(session, answered)
            results = await finish_attempts(
                session,
                [(item.call_log_id, item.report) for item in finishes],
                settings_cache=self.settings_cache,
                now=now,
            )
        steps: list[tuple[_Finish, NextStep | None]] = list(
            zip(finishes, results, strict=True)
        )

        finished = {
            i.campaign_id for i, step in steps if step is not None and step.final
        }
        if finished:
            await _guarded(_complete_campaigns, self.sessionmaker, finished, now)
        for item, step in steps:
            if not item.done.done():
                item.done.set_result(step)


async def _complete_campaigns(
    sessionmaker: async_sessionmaker[AsyncSession],
    campaign_ids: set[str],
    now: datetime,
) -> None:
    # One query finds the campaigns left without open targets; only those are
    # locked and completed.
    async with sessionmaker() as session:
        done = await repository.completable_campaign_ids(session, sorted(campaign_ids))
    for campaign_id in sorted(done):
        await _guarded(complete_campaign_if_done, sessionmaker, campaign_id, now)


async def _guarded(action: Callable[..., Awaitable[Any]], *args: Any) -> None:
    # The attempts are committed; a failed completion check is redone by the
    # sweeper, so it must not turn them into errors.
    try:
        await action(*args)
    except Exception:
        log.exception("recorder.completion_check_failed")
