"""All SQL of webhook deliveries: claiming, recording, listing, re-queueing."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.db.models import (
    Campaign,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)

OPEN_STATUSES = ("pending", "delivering")

# The worker's statements use the tables directly: rows of plain values, no
# ORM objects to build, track and flush.
_D = WebhookDelivery.__table__
_E = WebhookEvent.__table__
_EP = WebhookEndpoint.__table__
_A = WebhookDeliveryAttempt.__table__


@dataclass(frozen=True)
class ClaimedDelivery:
    """What a worker needs to send one delivery, detached from the session."""

    id: str
    token: str
    event_id: str
    event_type: str
    endpoint_id: str
    campaign_id: str
    target_id: str | None
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    payload: dict[str, Any]
    attempts: int
    retry_until: datetime | None


@dataclass(frozen=True)
class AttemptResult:
    delivery_id: str
    token: str
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    response_excerpt: str | None
    error: str | None
    succeeded: bool
    # When to try again; None gives up (failed) unless it succeeded.
    next_attempt_at: datetime | None


def _blocked() -> Any:
    earlier = _D.alias("earlier")
    # An earlier delivery of the same target to the same endpoint that is not
    # settled yet holds this one back, so a receiver sees a target's events in
    # order (one probe of the endpoint-and-target index).
    same_target = exists().where(
        earlier.c.endpoint_id == _D.c.endpoint_id,
        earlier.c.target_id == _D.c.target_id,
        earlier.c.sequence < _D.c.sequence,
        earlier.c.status.in_(OPEN_STATUSES),
    )
    # A campaign-wide event (campaign_finished) waits for every target event to
    # that endpoint that came before it; only those rare rows run this probe.
    before = _D.alias("before")
    target_events_before = exists().where(
        before.c.endpoint_id == _D.c.endpoint_id,
        before.c.target_id.is_not(None),
        before.c.created_at <= _D.c.created_at,
        before.c.status.in_(OPEN_STATUSES),
    )
    return or_(same_target, and_(_D.c.target_id.is_(None), target_events_before))


# Built once: it is the same in every claim.
_BLOCKED = _blocked()


def _claimable(now: datetime) -> Any:
    return and_(_D.c.status == "pending", _D.c.next_attempt_at <= now, ~_BLOCKED)


async def release_expired(session: AsyncSession, now: datetime) -> int:
    """Return deliveries whose lease ran out (their worker died mid-send) to the
    queue, due at once."""
    outcome = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == "delivering",
            WebhookDelivery.locked_until < now,
        )
        .values(
            status="pending", next_attempt_at=now, locked_by=None, locked_until=None
        )
        .execution_options(synchronize_session=False)
    )
    return outcome.rowcount or 0


async def claim(
    session: AsyncSession,
    *,
    now: datetime,
    token: str,
    lease: timedelta,
    room: int,
    endpoint_room: dict[str, int],
    per_endpoint: int,
    skip_locked: bool,
) -> list[ClaimedDelivery]:
    """Lease up to ``room`` due deliveries, at most ``endpoint_room[e]`` (or
    ``per_endpoint``) for each endpoint ``e``, under ``token``: a value new to
    this claim, which recording checks to tell the lease is still its own."""
    full = [e for e, free in endpoint_room.items() if free <= 0]
    # More candidates are read than taken, as those of an endpoint out of room
    # are skipped; a few endpoints' worth is enough, since one that fills up
    # is left out of the next claim, which the worker makes at once.
    query = (
        select(_D.c.id, _D.c.endpoint_id)
        .where(_claimable(now))
        .order_by(_D.c.next_attempt_at, _D.c.sequence)
        .limit(4 * min(room, per_endpoint))
    )
    if full:
        query = query.where(_D.c.endpoint_id.not_in(full))
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=_D)
    candidates = (await session.execute(query)).all()

    chosen_ids: list[str] = []
    taken: dict[str, int] = {}
    for delivery_id, endpoint_id in candidates:
        free = endpoint_room.get(endpoint_id, per_endpoint)
        if taken.get(endpoint_id, 0) >= free:
            continue
        taken[endpoint_id] = taken.get(endpoint_id, 0) + 1
        chosen_ids.append(delivery_id)
        if len(chosen_ids) >= room:
            break
    if not chosen_ids:
        return []

    # One statement for the whole batch: on SQLite every statement is paid for
    # while holding the only write lock.
    await session.execute(
        update(_D)
        .where(_D.c.id.in_(chosen_ids))
        .values(
            status="delivering",
            locked_by=token,
            locked_until=now + lease,
            updated_at=now,
        )
    )
    rows = await session.execute(
        select(
            _D.c.id,
            _D.c.event_id,
            _E.c.event_type,
            _D.c.endpoint_id,
            _D.c.campaign_id,
            _D.c.target_id,
            _EP.c.url,
            _EP.c.secret,
            _EP.c.previous_secret,
            _EP.c.previous_secret_expires_at,
            _E.c.payload,
            _D.c.attempts,
            _D.c.retry_until,
        )
        .join(_E, _E.c.id == _D.c.event_id)
        .join(_EP, _EP.c.id == _D.c.endpoint_id)
        .where(_D.c.id.in_(chosen_ids))
        .order_by(_D.c.next_attempt_at, _D.c.sequence)
    )
    return [ClaimedDelivery(row[0], token, *row[1:]) for row in rows]


def _settle(kind: str) -> Any:
    """The UPDATE that settles one attempt's delivery, run once per batch with
    a parameter set per attempt. ``kind`` is succeeded, failed or retry."""
    values: dict[str, Any] = {
        "attempts": _D.c.attempts + 1,
        "last_status_code": bindparam("p_status_code"),
        "last_error": bindparam("p_error"),
        "locked_by": None,
        "locked_until": None,
        "updated_at": bindparam("p_attempted_at"),
    }
    if kind == "succeeded":
        values.update(status="succeeded", succeeded_at=bindparam("p_attempted_at"))
    elif kind == "failed":
        values.update(status="failed", failed_at=bindparam("p_attempted_at"))
    else:
        values.update(status="pending", next_attempt_at=bindparam("p_next"))
    return (
        update(_D)
        .where(
            _D.c.id == bindparam("p_id"),
            _D.c.locked_by == bindparam("p_token"),
            _D.c.status == "delivering",
        )
        .values(**values)
    )


_SETTLE = {kind: _settle(kind) for kind in ("succeeded", "failed", "retry")}


async def record(session: AsyncSession, results: Sequence[AttemptResult]) -> None:
    """Store attempts and settle their deliveries. A delivery whose lease was
    taken over meanwhile keeps its new owner's state; its attempt is still
    logged."""
    if not results:
        return
    await session.execute(
        insert(_A),
        [
            {
                "delivery_id": r.delivery_id,
                "attempted_at": r.attempted_at,
                "status_code": r.status_code,
                "latency_ms": r.latency_ms,
                "response_excerpt": r.response_excerpt,
                "error": r.error,
            }
            for r in results
        ],
    )
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        if r.succeeded:
            kind = "succeeded"
        elif r.next_attempt_at is None:
            kind = "failed"
        else:
            kind = "retry"
        params = {
            "p_id": r.delivery_id,
            "p_token": r.token,
            "p_status_code": r.status_code,
            "p_error": r.error,
            "p_attempted_at": r.attempted_at,
        }
        if kind == "retry":
            params["p_next"] = r.next_attempt_at
        by_kind.setdefault(kind, []).append(params)
    for kind, params in by_kind.items():
        await session.execute(_SETTLE[kind], params)


async def next_due(session: AsyncSession) -> datetime | None:
    """The earliest time a pending delivery becomes due."""
    return await session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at)).where(
            WebhookDelivery.status == "pending"
        )
    )


async def get_campaign(
    session: AsyncSession, org_id: str, campaign_id: str
) -> Campaign | None:
    return await session.scalar(
        select(Campaign).where(
            Campaign.id == campaign_id, Campaign.organization_id == org_id
        )
    )


async def get_endpoint(
    session: AsyncSession, org_id: str, campaign_id: str, endpoint_id: str
) -> WebhookEndpoint | None:
    return await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.campaign_id == campaign_id,
            WebhookEndpoint.organization_id == org_id,
        )
    )


async def get_delivery(
    session: AsyncSession, org_id: str, delivery_id: str
) -> WebhookDelivery | None:
    return await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.organization_id == org_id,
        )
    )


Row = tuple[WebhookDelivery, WebhookEvent, WebhookEndpoint]


def _rows() -> Any:
    return (
        select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
    )


async def list_page(
    session: AsyncSession,
    org_id: str,
    *,
    campaign_id: str | None,
    event_id: str | None,
    statuses: Collection[str] | None,
    from_date: datetime | None,
    to_date: datetime | None,
    page: int,
    limit: int,
) -> tuple[list[Row], int]:
    conditions = [WebhookDelivery.organization_id == org_id]
    if campaign_id is not None:
        conditions.append(WebhookDelivery.campaign_id == campaign_id)
    if event_id is not None:
        conditions.append(WebhookDelivery.event_id == event_id)
    if statuses:
        conditions.append(WebhookDelivery.status.in_(statuses))
    if from_date is not None:
        conditions.append(WebhookDelivery.created_at >= from_date)
    if to_date is not None:
        conditions.append(WebhookDelivery.created_at <= to_date)
    total = await session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(*conditions)
    )
    rows = await session.execute(
        _rows()
        .where(*conditions)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .offset(page * limit)
        .limit(limit)
    )
    return [tuple(row) for row in rows], total or 0  # type: ignore[misc]


async def rows_for(
    session: AsyncSession, org_id: str, delivery_ids: Collection[str]
) -> list[Row]:
    rows = await session.execute(
        _rows().where(
            WebhookDelivery.organization_id == org_id,
            WebhookDelivery.id.in_(delivery_ids),
        )
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def rows_for_event(
    session: AsyncSession, org_id: str, event_id: str
) -> list[Row]:
    rows = await session.execute(
        _rows()
        .where(
            WebhookDelivery.organization_id == org_id,
            WebhookDelivery.event_id == event_id,
        )
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def attempts_of(
    session: AsyncSession, delivery_ids: Collection[str]
) -> dict[str, list[WebhookDeliveryAttempt]]:
    found: dict[str, list[WebhookDeliveryAttempt]] = {i: [] for i in delivery_ids}
    if not delivery_ids:
        return found
    for attempt in await session.scalars(
        select(WebhookDeliveryAttempt)
        .where(WebhookDeliveryAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookDeliveryAttempt.id)
    ):
        found[attempt.delivery_id].append(attempt)
    return found


async def requeue_failed(
    session: AsyncSession,
    *,
    org_id: str,
    campaign_id: str,
    from_date: datetime,
    to_date: datetime,
    now: datetime,
    retry_window: timedelta,
) -> int:
    """Put the failed deliveries of events created in the window back in the
    queue, with a fresh retry window. Their event, and so their webhook-id,
    stays the same."""
    in_window = (
        select(WebhookEvent.id)
        .where(
            WebhookEvent.campaign_id == campaign_id,
            WebhookEvent.created_at >= from_date,
            WebhookEvent.created_at <= to_date,
        )
        .scalar_subquery()
    )
    outcome = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.organization_id == org_id,
            WebhookDelivery.campaign_id == campaign_id,
            WebhookDelivery.status == "failed",
            WebhookDelivery.event_id.in_(in_window),
        )
        .values(**_requeued(now, retry_window))
        .execution_options(synchronize_session=False)
    )
    return outcome.rowcount or 0


def requeue(delivery: WebhookDelivery, now: datetime, retry_window: timedelta) -> None:
    for name, value in _requeued(now, retry_window).items():
        setattr(delivery, name, value)


def _requeued(now: datetime, retry_window: timedelta) -> dict[str, Any]:
    return {
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "retry_until": now + retry_window,
        "locked_by": None,
        "locked_until": None,
        "failed_at": None,
        "updated_at": now,
    }
