"""The delivery worker: sends queued webhooks, signed, and retries them.

Deliveries are leased (``locked_until``) so that a worker that dies mid-send
leaves them to the others once the lease runs out; a receiver may then see the
same ``webhook-id`` twice and is expected to deduplicate on it. Each endpoint
has its own limit of concurrent sends, so a slow or dead receiver only slows
itself down.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callfleet import __version__
from callfleet.clock import Clock, SystemClock
from callfleet.config import Config
from callfleet.notifications import outbox, repository, signing, url_safety
from callfleet.notifications.repository import AttemptResult, ClaimedDelivery

log = structlog.get_logger()

TIMEOUT_S = 10.0
EXCERPT_CHARS = 1000
# Upper bounds of the delay before retry n (full jitter draws below them); the
# last one repeats until the delivery's retry window (about a day) is over.
BACKOFF_S = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800)
MIN_DELAY_S = 1.0
USER_AGENT = f"callfleet-webhooks/{__version__}"
# How often a worker looks for leases that ran out (clock time).
SWEEP_INTERVAL = timedelta(seconds=5)
PREFETCH = 4


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: exponential
    backoff with full jitter."""
    cap = BACKOFF_S[min(max(attempts, 1), len(BACKOFF_S)) - 1]
    return max(MIN_DELAY_S, (rng or random).uniform(0, cap))


def next_attempt(
    attempts: int, now: datetime, retry_until: datetime | None
) -> datetime | None:
    """When to try again after ``attempts`` failures, or None to give up. The
    last try lands on ``retry_until`` so the whole window is used."""
    if retry_until is None or now >= retry_until:
        return None
    return min(now + timedelta(seconds=retry_delay(attempts)), retry_until)


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class SendOutcome:
    status_code: int | None
    latency_ms: float
    response_excerpt: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def send(
    client: httpx.AsyncClient,
    *,
    url: str,
    event_id: str,
    body: bytes,
    secrets: list[str],
    allow_private: bool,
    timeout_s: float = TIMEOUT_S,
) -> SendOutcome:
    """POST one signed webhook. Never raises for what the receiver or the
    network does; the outcome says what happened."""
    started = time.perf_counter()

    def elapsed_ms() -> float:
        return round((time.perf_counter() - started) * 1000, 3)

    try:
        request_url, headers, extensions = await _route(url, allow_private)
    except url_safety.UnsafeURL as exc:
        return SendOutcome(None, elapsed_ms(), None, f"refused: {exc}")

    # The receiver checks this against its own clock, so it is wall time even
    # when the worker runs on a test clock.
    headers.update(signing.signed_headers(secrets, event_id, _wall_now(), body))
    headers.update({"content-type": "application/json", "user-agent": USER_AGENT})
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream(
                "POST",
                request_url,
                content=body,
                headers=headers,
                extensions=extensions,
                follow_redirects=False,
            ) as response:
                excerpt = await _excerpt(response)
                status_code = response.status_code
    except TimeoutError:
        return SendOutcome(None, elapsed_ms(), None, f"timeout after {timeout_s}s")
    except httpx.HTTPError as exc:
        return SendOutcome(None, elapsed_ms(), None, _describe(exc))

    error = None
    if 300 <= status_code < 400:
        error = f"redirect ({status_code}) not followed"
    elif not 200 <= status_code < 300:
        error = f"HTTP {status_code}"
    return SendOutcome(status_code, elapsed_ms(), excerpt, error)


async def _route(
    url: str, allow_private: bool
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL to connect to, with the host header and TLS name to keep. When
    private addresses are refused, the connection goes to the address that was
    checked, so a DNS change between check and connect cannot slip through."""
    if allow_private:
        url_safety.parse(url)
        return url, {}, {}
    destination = url_safety.parse(url)
    addresses = await url_safety.checked_addresses(url, allow_private=False)
    if url_safety.literal_address(destination.host) is not None:
        return url, {}, {}
    address = addresses[0]
    host = f"[{address}]" if address.version == 6 else str(address)
    parts = urlsplit(url)
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    if parts.username:
        credentials = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{credentials}@{netloc}"
    host_header = (
        destination.host if parts.port is None else (f"{destination.host}:{parts.port}")
    )
    extensions = {"sni_hostname": destination.host} if parts.scheme == "https" else {}
    return (
        urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")),
        {"host": host_header},
        extensions,
    )


async def _excerpt(response: httpx.Response) -> str:
    """The start of the body; the rest is never read."""
    collected = b""
    if response.is_stream_consumed:  # already read by the transport
        collected = response.content
    else:
        async for chunk in response.aiter_raw():
            collected += chunk
            if len(collected) >= EXCERPT_CHARS * 4:
                break
    return collected.decode("utf-8", errors="replace")[:EXCERPT_CHARS]


def _describe(exc: Exception) -> str:
    message = str(exc).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:1000]


def _wall_now() -> datetime:
    return SystemClock().now()


class DeliveryWorker:
    """Claims due deliveries and sends them until ``stop`` is set.

    ``transport`` replaces the HTTP transport (tests); ``clock`` decides when
    deliveries are due and when leases run out.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        config: Config,
        clock: Clock,
        *,
        worker_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = TIMEOUT_S,
        max_in_flight: int = 64,
        per_endpoint: int = 8,
        poll_interval_s: float = 0.1,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.config = config
        self.clock = clock
        self.worker_id = worker_id or config.worker_id or f"wh-{uuid.uuid4().hex[:8]}"
        self.timeout_s = timeout_s
        self.max_in_flight = max_in_flight
        self.per_endpoint = per_endpoint
        self.poll_interval_s = poll_interval_s
        # A worker leases up to PREFETCH times the sends it may have in flight,
        # so the next ones are at hand when a send ends; the lease covers the
        # wait for a turn, a send that runs into its timeout, and recording.
        self.lease = timedelta(seconds=timeout_s * PREFETCH + 20)
        self._transport = transport
        self._skip_locked = sessionmaker.kw["bind"].dialect.name == "postgresql"
        self._claimed: dict[str, int] = defaultdict(int)
        self._gates: dict[str, asyncio.Semaphore] = {}
        self._sending = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._results: asyncio.Queue[AttemptResult] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._next_sweep: datetime | None = None

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("webhooks.worker_started", worker_id=self.worker_id)
        async with self._client() as client:
            recorder = asyncio.create_task(self._record_loop())
            try:
                while not stop.is_set():
                    started = await self._claim_and_start(client)
                    if started:
                        await asyncio.sleep(0)
                        continue
                    self._wake.clear()
                    stopping = asyncio.ensure_future(stop.wait())
                    woken = asyncio.ensure_future(self._wake.wait())
                    _, pending = await asyncio.wait(
                        {stopping, woken},
                        timeout=self.poll_interval_s,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    for future in pending:
                        future.cancel()
                # Let in-flight sends finish and be recorded; they are bounded
                # by the send timeout.
                if self._tasks:
                    await asyncio.wait(self._tasks)
                await self._results.join()
            finally:
                for task in self._tasks:
                    task.cancel()
                recorder.cancel()
                await asyncio.gather(*self._tasks, recorder, return_exceptions=True)
                log.info("webhooks.worker_stopped", worker_id=self.worker_id)

    async def drain(self) -> int:
        """Send everything due now and record it; returns how many deliveries
        were attempted. For tests and one-shot use."""
        count = 0
        async with self._client() as client:
            while True:
                jobs = await self._claim(self.max_in_flight * PREFETCH)
                if not jobs:
                    return count
                count += len(jobs)
                for job in jobs:
                    self._claimed[job.endpoint_id] += 1
                outcomes = await asyncio.gather(
                    *(self._gated_attempt(client, job) for job in jobs)
                )
                async with self.sessionmaker() as session, session.begin():
                    await repository.record(session, outcomes)

    def _client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(
            max_connections=self.max_in_flight,
            max_keepalive_connections=self.max_in_flight,
        )
        return httpx.AsyncClient(
            transport=self._transport,
            timeout=httpx.Timeout(self.timeout_s),
            limits=limits,
            follow_redirects=False,
            trust_env=False,
        )

    async def _claim(self, room: int) -> list[ClaimedDelivery]:
        if room <= 0:
            return []
        endpoint_room = {
            endpoint: self.per_endpoint * PREFETCH - busy
            for endpoint, busy in self._claimed.items()
            if busy
        }
        now = self.clock.now()
        async with self.sessionmaker() as session, session.begin():
            if self._next_sweep is None or now >= self._next_sweep:
                released = await repository.release_expired(session, now)
                if released:
                    log.warning("webhooks.leases_expired", released=released)
                self._next_sweep = now + SWEEP_INTERVAL
            return await repository.claim(
                session,
                now=now,
                token=f"{self.worker_id}/{uuid.uuid4().hex[:12]}",
                lease=self.lease,
                room=room,
                endpoint_room=endpoint_room,
                per_endpoint=self.per_endpoint * PREFETCH,
                skip_locked=self._skip_locked,
            )

    async def _claim_and_start(self, client: httpx.AsyncClient) -> int:
        try:
            jobs = await self._claim(self.max_in_flight * PREFETCH - len(self._tasks))
        except Exception:
            # A database hiccup must not end the loop; the next poll retries.
            log.exception("webhooks.claim_failed", worker_id=self.worker_id)
            await asyncio.sleep(self.poll_interval_s)
            return 0
        for job in jobs:
            self._claimed[job.endpoint_id] += 1
            task = asyncio.create_task(self._send_one(client, job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(jobs)

    async def _send_one(self, client: httpx.AsyncClient, job: ClaimedDelivery) -> None:
        result = await self._gated_attempt(client, job)
        self._results.put_nowait(result)

    async def _gated_attempt(
        self, client: httpx.AsyncClient, job: ClaimedDelivery
    ) -> AttemptResult:
        """One send at a time per slot: ``per_endpoint`` for the endpoint and
        ``max_in_flight`` over all."""
        gate = self._gates.setdefault(
            job.endpoint_id, asyncio.Semaphore(self.per_endpoint)
        )
        try:
            async with gate, self._sending:
                return await self._attempt(client, job)
        finally:
            self._claimed[job.endpoint_id] -= 1
            if not self._claimed[job.endpoint_id]:
                del self._claimed[job.endpoint_id]
                self._gates.pop(job.endpoint_id, None)

    async def _attempt(
        self, client: httpx.AsyncClient, job: ClaimedDelivery
    ) -> AttemptResult:
        attempted_at = self.clock.now()
        outcome = await send(
            client,
            url=job.url,
            event_id=job.event_id,
            body=encode(outbox.ordered(job.event_type, job.payload)),
            secrets=signing.active_secrets(
                job.secret,
                job.previous_secret,
                job.previous_secret_expires_at,
                attempted_at,
            ),
            allow_private=self.config.webhook_allow_private,
            timeout_s=self.timeout_s,
        )
        attempts = job.attempts + 1
        next_at = (
            None
            if outcome.succeeded
            else next_attempt(attempts, self.clock.now(), job.retry_until)
        )
        # Successes are the bulk at volume and live in the attempts table.
        log_method = log.debug if outcome.succeeded else log.warning
        log_method(
            "webhook.attempted",
            event_id=job.event_id,
            event_type=job.event_type,
            delivery_id=job.id,
            endpoint_id=job.endpoint_id,
            campaign_id=job.campaign_id,
            target_id=job.target_id,
            attempt=attempts,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            error=outcome.error,
            gives_up=not outcome.succeeded and next_at is None,
        )
        return AttemptResult(
            delivery_id=job.id,
            token=job.token,
            attempted_at=attempted_at,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.response_excerpt,
            error=outcome.error,
            succeeded=outcome.succeeded,
            next_attempt_at=next_at,
        )

    async def _record_loop(self) -> None:
        """Records results in batches: one transaction for all that finished
        meanwhile keeps the write load low under many concurrent sends."""
        while True:
            batch = [await self._results.get()]
            while not self._results.empty() and len(batch) < 500:
                batch.append(self._results.get_nowait())
            try:
                await self._record(batch)
            finally:
                for _ in batch:
                    self._results.task_done()
            self._wake.set()

    async def _record(self, batch: list[AttemptResult]) -> None:
        for attempt in range(5):
            try:
                async with self.sessionmaker() as session, session.begin():
                    await repository.record(session, batch)
                return
            except Exception:
                # Unrecorded sends are not lost: their leases run out and they
                # are sent again under the same webhook-id.
                log.exception("webhooks.record_failed", retry=attempt)
                await asyncio.sleep(0.2 * (attempt + 1))
