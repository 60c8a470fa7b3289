"""Target rules: validated, all-or-nothing ingest; launch; edit; delete; cancel."""

from __future__ import annotations

import asyncio
import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet import jsonutil, phones
from callfleet.api.errors import Conflict, Invalid, NotFound, TooLarge
from callfleet.campaigns import repository as campaigns_repository
from callfleet.campaigns import service as campaigns_service
from callfleet.campaigns.schemas import CampaignStatus
from callfleet.campaigns.settings import CampaignSettings, validate_zone
from callfleet.db.models import Campaign, Target
from callfleet.targets import repository
from callfleet.targets.schemas import (
    AddTargetsResponse,
    CampaignTargetResponse,
    DeleteTargetsResponse,
    LaunchTargetsResponse,
    TargetInput,
    TargetInputPhoneNumber,
    TargetResult,
)
from callfleet.targets.status import (
    FINAL_STATUSES,
    LIVE_STATUSES,
    NOT_STARTED_STATUSES,
    TargetStatus,
)

_target_adapter = TypeAdapter(TargetInput)
_CLOSED_CAMPAIGN = {CampaignStatus.ARCHIVED, CampaignStatus.CANCELLED}
_PENDING = TargetStatus.PENDING.value  # read once: enum attribute access is slow


def _error(loc: list[Any], msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def _canonical(values: dict[str, Any]) -> str:
    return jsonutil.canonical(values)


def content_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(values).encode()).hexdigest()


def _nul_path(value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """Where a NUL character hides in ``value`` (PostgreSQL text and JSON
    cannot store one), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, inner in value.items():
            if "\x00" in str(key):
                return (*path, key)
            found = _nul_path(inner, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found = _nul_path(inner, (*path, index))
            if found is not None:
                return found
    return None


def is_uuid4(value: str) -> bool:
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return parsed.version == 4 and str(parsed) == value.lower()


def rank_base(now: datetime) -> int:
    """Queue ranks grow with time so that earlier launches are called first."""
    return int(now.timestamp() * 1_000_000) * 100


def deadline_for(settings: CampaignSettings, created_at: datetime) -> datetime | None:
    deadlines = []
    if settings.sla_hours is not None:
        deadlines.append(created_at + timedelta(hours=settings.sla_hours))
    if settings.deadline is not None:
        deadlines.append(settings.deadline)
    return min(deadlines) if deadlines else None


@dataclass
class _Prepared:
    index: int
    id: str
    row: dict[str, Any]
    client_id: bool  # the id came with the request (else it was generated here)


def _parse_phone(
    raw: str, region: str, parsed: dict[str, phones.ParseResult] | None
) -> tuple[str, tuple[str, ...]]:
    result = parsed.get(raw) if parsed is not None else None
    if result is None:
        return phones.parse(raw, region)
    if isinstance(result, str):
        raise phones.InvalidPhoneNumber(result)
    return result


def _phone(
    value: str | TargetInputPhoneNumber,
    region: str,
    parsed: dict[str, phones.ParseResult] | None = None,
) -> tuple[str, tuple[str, ...], dict[str, Any] | None]:
    """E.164, the zones the number may be in, and its operating hours."""
    if isinstance(value, TargetInputPhoneNumber):
        hours = value.operating_hours
        e164, zones = _parse_phone(value.value, region, parsed)
        return (
            e164,
            zones,
            (hours.model_dump(mode="json") if hours is not None else None),
        )
    e164, zones = _parse_phone(value, region, parsed)
    return e164, zones, None


def _fallback(
    value: str | TargetInputPhoneNumber, region: str
) -> tuple[str, dict[str, Any] | None]:
    """A fallback number is kept for later, not dialled now: its form is checked
    (so that it is stored in E.164), not whether it is assigned."""
    if isinstance(value, TargetInputPhoneNumber):
        hours = value.operating_hours
        return phones.normalize_possible(value.value, region), (
            hours.model_dump(mode="json") if hours is not None else None
        )
    return phones.normalize_possible(value, region), None


def _raw_numbers(raw_targets: list[Any]) -> list[str]:
    """The phone number strings of a request, before validation."""
    numbers = []
    for raw in raw_targets:
        value = raw.get("phone_number") if isinstance(raw, dict) else None
        if isinstance(value, dict):
            value = value.get("value")
        if isinstance(value, str):
            numbers.append(value)
    return numbers


def _clashes(
    item: _Prepared, seen: dict[str, _Prepared], errors: list[dict[str, Any]]
) -> bool:
    """Whether ``item`` reuses the id of an earlier target of the same request
    with other content (an error); identical repeats are fine."""
    twin = seen.setdefault(item.id, item)
    if twin is item or twin.row["content_hash"] == item.row["content_hash"]:
        return False
    errors.append(
        _error(
            ["body", "targets", item.index, "id"],
            f"id {item.id} is used by target {twin.index} of this request "
            "with different content",
        )
    )
    return True


def _validate(index: int, raw: Any, errors: list[dict[str, Any]]) -> TargetInput | None:
    try:
        return _target_adapter.validate_python(raw)
    except ValidationError as exc:
        loc = ["body", "targets", index]
        for error in exc.errors(include_url=False):
            errors.append(_error([*loc, *error["loc"]], error["msg"], error["type"]))
        return None


def _prepare(
    index: int,
    item: TargetInput,
    *,
    campaign: Campaign,
    settings: CampaignSettings,
    region: str,
    now: datetime,
    errors: list[dict[str, Any]],
    parsed: dict[str, phones.ParseResult] | None = None,
) -> _Prepared | None:
    loc = ["body", "targets", index]
    failed = False
    if item.id is not None and not is_uuid4(item.id):
        errors.append(_error([*loc, "id"], f"id {item.id!r} is not a version 4 UUID"))
        failed = True
    try:
        phone, zones, hours = _phone(item.phone_number, region, parsed)
    except phones.InvalidPhoneNumber as exc:
        errors.append(_error([*loc, "phone_number"], str(exc), "phone_number"))
        failed = True
    fallback = fallback_hours = None
    if item.fallback_phone_number is not None:
        try:
            fallback, fallback_hours = _fallback(item.fallback_phone_number, region)
        except phones.InvalidPhoneNumber as exc:
            errors.append(
                _error([*loc, "fallback_phone_number"], str(exc), "phone_number")
            )
            failed = True
    explicit_zone = item.input_data.get("timezone")
    if explicit_zone is not None:
        try:
            if not isinstance(explicit_zone, str):
                raise ValueError(f"timezone must be a string, got {explicit_zone!r}")
            validate_zone(explicit_zone)
        except ValueError as exc:
            errors.append(_error([*loc, "input_data", "timezone"], str(exc)))
            failed = True
    if failed:
        return None

    target_id = item.id.lower() if item.id else str(uuid.uuid4())
    patient = item.patient.model_dump(exclude_none=True) if item.patient else None
    content = {
        "external_id": item.external_id,
        "phone_number": phone,
        "operating_hours": hours,
        "fallback_phone_number": fallback,
        "fallback_operating_hours": fallback_hours,
        "input_data": item.input_data,
        "patient": patient,
        "pre_call_data": item.pre_call_data,
    }
    canonical = _canonical(content)
    # The escaped form shows up in the canonical JSON; only then look closer.
    if "\\u0000" in canonical:
        where = _nul_path(content)
        if where is not None:
            errors.append(_error([*loc, *where], "text may not contain NUL characters"))
            return None
    row = {
        **content,
        "id": target_id,
        "organization_id": campaign.organization_id,
        "campaign_id": campaign.id,
        "timezones": [explicit_zone] if explicit_zone else list(zones),
        "output_data": {},
        "content_hash": hashlib.sha256(canonical.encode()).hexdigest(),
        "status": _PENDING,
        "attempt": 0,
        "max_attempts": settings.retry_policy.max_attempts,
        "free_retries": 0,
        "disposition_streak": 0,
        "cancel_requested": False,
        "execution_seconds": 0.0,
        "queue_rank": 0,
        # Every row has the same keys: they are inserted as one executemany.
        "category": None,
        "outcome": None,
        "finished_at": None,
        "next_attempt_at": None,
        "launched_at": None,
        "deadline_at": deadline_for(settings, now),
        "created_at": now,
        "updated_at": now,
    }
    return _Prepared(index=index, id=target_id, row=row, client_id=item.id is not None)


async def add_targets(
    session: AsyncSession,
    org_id: str,
    campaign_id: str,
    raw_targets: list[Any],
    *,
    launch: bool,
    allow_duplicates: bool,
    default_region: str,
    max_targets: int,
    now: datetime,
) -> AddTargetsResponse:
    if len(raw_targets) > max_targets:
        raise TooLarge(
            f"{len(raw_targets)} targets in one request; at most {max_targets} "
            "are accepted, split the list into several requests"
        )
    # Locking the campaign row serializes concurrent ingests into one campaign,
    # so that duplicate ids and external ids are judged against committed rows.
    campaign = await campaigns_repository.get_for_update(session, org_id, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    if campaign.status in _CLOSED_CAMPAIGN:
        raise Conflict(
            f"campaign {campaign_id} is {campaign.status}; it takes no targets"
        )
    settings = CampaignSettings.model_validate(campaign.settings)
    region = settings.phone_region or default_region

    # Numbers are parsed in worker processes while this one validates the rest.
    parsing = asyncio.create_task(phones.parse_all(_raw_numbers(raw_targets), region))
    await asyncio.sleep(0)
    errors: list[dict[str, Any]] = []
    items = [_validate(index, raw, errors) for index, raw in enumerate(raw_targets)]
    parsed = await parsing
    prepared: list[_Prepared] = []
    seen: dict[str, _Prepared] = {}
    for index, valid in enumerate(items):
        if valid is None:
            continue
        item = _prepare(
            index,
            valid,
            campaign=campaign,
            settings=settings,
            region=region,
            now=now,
            errors=errors,
            parsed=parsed,
        )
        if item is None:
            continue
        if _clashes(item, seen, errors):
            continue
        prepared.append(item)
    if errors:
        raise Invalid(errors)

    # A generated v4 id cannot already exist; only ids the client chose can.
    existing = await repository.existing_by_id(
        session, [item_id for item_id, item in seen.items() if item.client_id]
    )
    for item in prepared:
        found = existing.get(item.id)
        if found is None:
            continue
        org, campaign_of, digest, _status = found
        if org != org_id or campaign_of != campaign.id:
            raise Conflict(
                f"target id {item.id} (index {item.index}) is already in use; "
                "choose another id"
            )
        if digest != item.row["content_hash"]:
            raise Conflict(
                f"target {item.id} (index {item.index}) already exists with different "
                "content; use PATCH /api/v1/targets/{id} to change it"
            )

    taken_external: set[str] = set()
    if not allow_duplicates:
        external_ids = [i.row["external_id"] for i in prepared if i.row["external_id"]]
        taken_external = await repository.existing_external_ids(
            session, campaign.id, external_ids
        )
    suppressed = await repository.suppressed_numbers(
        session, org_id, sorted({i.row["phone_number"] for i in prepared})
    )

    results: list[TargetResult] = []
    rows: list[dict[str, Any]] = []
    to_launch: list[str] = []
    inserted: dict[str, str] = {}  # id -> status of the row inserted for it
    base = rank_base(now)
    for item in prepared:
        row = item.row
        if item.id in existing or item.id in inserted:
            status = existing[item.id][3] if item.id in existing else inserted[item.id]
            results.append(
                TargetResult(
                    index=item.index,
                    id=item.id,
                    result="already_present",
                    status=status,
                )
            )
            if launch and item.id in existing and status == TargetStatus.PENDING:
                to_launch.append(item.id)
            continue
        external = row["external_id"]
        if not allow_duplicates and external and external in taken_external:
            results.append(
                TargetResult(
                    index=item.index,
                    id=item.id if item.client_id else None,
                    result="skipped",
                    reason=f"external_id {external!r} is already in the campaign",
                )
            )
            continue
        if external:
            taken_external.add(external)
        row["queue_rank"] = base + item.index
        if row["phone_number"] in suppressed:
            row.update(
                status=TargetStatus.FAILED.value,
                category="BLACKLISTED_PHONE",
                outcome="blacklisted_phone",
                finished_at=now,
            )
        elif launch:
            row.update(
                status=TargetStatus.SCHEDULED.value,
                next_attempt_at=now,
                launched_at=now,
            )
        rows.append(row)
        inserted[item.id] = row["status"]
        results.append(
            TargetResult(
                index=item.index, id=item.id, result="created", status=row["status"]
            )
        )
    try:
        await repository.insert_many(session, rows)
    except IntegrityError as exc:
        # Another request in another campaign took one of these ids first.
        raise Conflict(
            "some target ids of this request were stored by another request at the "
            "same time; nothing was stored, send the request again"
        ) from exc
    launched_existing = (
        await repository.launch(session, campaign.id, to_launch, now, base)
        if to_launch
        else []
    )
    if rows and campaign.status == CampaignStatus.COMPLETED:
        campaign.status = CampaignStatus.ACTIVE
        campaign.completed_at = None
        campaign.updated_at = now
    launched = sum(1 for row in rows if row["status"] == TargetStatus.SCHEDULED)
    return AddTargetsResponse(
        created=len(rows),
        already_present=sum(1 for r in results if r.result == "already_present"),
        skipped=sum(1 for r in results if r.result == "skipped"),
        launched=launched + len(launched_existing),
        target_ids=[r.id for r in results if r.id and r.result != "skipped"],
        results=results,
    )


async def launch_targets(
    session: AsyncSession,
    org_id: str,
    campaign_id: str,
    *,
    target_ids: list[str] | None,
    count: int | None,
    prioritize_oldest: bool,
    now: datetime,
) -> LaunchTargetsResponse:
    if (target_ids is None) == (count is None):
        raise Invalid(
            [_error(["body"], "give exactly one of 'target_ids' and 'count'")]
        )
    campaign = await campaigns_service.get(session, org_id, campaign_id)
    if campaign.status in _CLOSED_CAMPAIGN:
        raise Conflict(
            f"campaign {campaign_id} is {campaign.status}; nothing can be launched"
        )
    not_launched: list[dict[str, str]] = []
    if target_ids is not None:
        wanted = list(dict.fromkeys(target_ids))
        statuses = await repository.statuses_of(session, campaign.id, wanted)
        for target_id in wanted:
            status = statuses.get(target_id)
            if status is None:
                not_launched.append(
                    {"id": target_id, "reason": "not found in campaign"}
                )
            elif status != TargetStatus.PENDING:
                not_launched.append({"id": target_id, "reason": f"status is {status}"})
        ordered = [t for t in wanted if statuses.get(t) == TargetStatus.PENDING]
    else:
        ordered = await repository.pending_ids(
            session, campaign.id, count or 0, prioritize_oldest
        )
    launched = await repository.launch(
        session, campaign.id, ordered, now, rank_base(now)
    )
    if launched and campaign.status == CampaignStatus.COMPLETED:
        campaign.status = CampaignStatus.ACTIVE
        campaign.completed_at = None
    return LaunchTargetsResponse(
        launched=len(launched), target_ids=launched, not_launched=not_launched
    )


async def delete_targets(
    session: AsyncSession, org_id: str, campaign_id: str, target_ids: list[str]
) -> DeleteTargetsResponse:
    campaign = await campaigns_service.get(session, org_id, campaign_id)
    wanted = list(dict.fromkeys(target_ids))
    statuses = await repository.statuses_of(session, campaign.id, wanted)
    not_found = [t for t in wanted if t not in statuses]
    in_progress = [t for t in wanted if statuses.get(t) in LIVE_STATUSES]
    deletable = [
        t for t in wanted if t in statuses and statuses[t] not in LIVE_STATUSES
    ]
    await repository.delete_many(session, campaign.id, deletable)
    return DeleteTargetsResponse(
        deleted=len(deletable),
        deleted_ids=deletable,
        not_found=not_found,
        in_progress=in_progress,
    )


async def get(session: AsyncSession, org_id: str, target_id: str) -> Target:
    target = await repository.get(session, org_id, target_id)
    if target is None:
        raise NotFound(f"target {target_id} not found")
    return target


async def update_input_data(
    session: AsyncSession,
    org_id: str,
    target_id: str,
    input_data: dict[str, Any],
    *,
    only_if_not_started: bool,
    now: datetime,
) -> Target:
    target = await repository.get_for_update(session, org_id, target_id)
    if target is None:
        raise NotFound(f"target {target_id} not found")
    started = target.attempt > 0 or target.status not in (
        TargetStatus.PENDING,
        TargetStatus.SCHEDULED,
    )
    if only_if_not_started and started:
        raise Conflict(
            f"target {target_id} has already started (status {target.status}, "
            f"{target.attempt} attempt(s)); send only_if_not_started=false to edit "
            "anyway"
        )
    if "timezone" in input_data and input_data["timezone"] is not None:
        try:
            validate_zone(str(input_data["timezone"]))
        except ValueError as exc:
            raise Invalid(
                [_error(["body", "input_data", "timezone"], str(exc))]
            ) from exc
        target.timezones = [input_data["timezone"]]
    target.input_data = {**target.input_data, **input_data}
    target.updated_at = now
    await session.flush()
    return target


async def cancel(
    session: AsyncSession, org_id: str, target_id: str, now: datetime
) -> Target:
    target = await repository.get_for_update(session, org_id, target_id)
    if target is None:
        raise NotFound(f"target {target_id} not found")
    if target.status in FINAL_STATUSES:
        raise Conflict(f"target {target_id} is already final ({target.status})")
    if target.status in NOT_STARTED_STATUSES:
        target.status = TargetStatus.FAILED
        target.outcome = "cancelled"
        target.next_attempt_at = None
        target.finished_at = now
    # A live call finishes; no further attempt follows it.
    target.cancel_requested = True
    target.updated_at = now
    await session.flush()
    return target


def execution_minutes(target: Target) -> int | None:
    if target.attempt == 0 and not target.execution_seconds:
        return None
    return math.ceil(target.execution_seconds / 60)


def to_response(
    target: Target, base_url: str, call_log_ids: list[int]
) -> CampaignTargetResponse:
    return CampaignTargetResponse(
        id=target.id,
        target_url=f"{base_url}/api/v1/targets/{target.id}",
        organization_id=target.organization_id,
        campaign_id=target.campaign_id,
        created_at=target.created_at,
        execution_minutes=execution_minutes(target),
        input_data=target.input_data,
        output_data=target.output_data or {},
        status=TargetStatus(target.status),
        resolution=target.resolution,
        category=target.category,
        subcategory=target.subcategory,
        call_log_ids=call_log_ids,
        last_call_date=target.last_call_at,
        phone_number=target.phone_number,
        external_id=target.external_id,
        updated_at=target.updated_at,
        retries=max(target.attempt - 1, 0),
        scheduled_time=target.next_attempt_at,
        categorization=target.categorization,
        outcome=target.outcome,
        statistics=target.statistics,
        attempt=target.attempt,
        max_attempts=target.max_attempts,
        next_attempt_scheduled=target.next_attempt_at,
        fallback_phone_number=target.fallback_phone_number,
        timezones=list(target.timezones or []),
        pre_call_data=target.pre_call_data,
        patient=target.patient,
        finished_at=target.finished_at,
    )


async def responses(
    session: AsyncSession, targets: list[Target], base_url: str
) -> list[CampaignTargetResponse]:
    ids = await repository.call_log_ids(session, [t.id for t in targets])
    return [to_response(t, base_url, ids.get(t.id, [])) for t in targets]


def validate_targets(
    raw_targets: list[Any],
    settings: CampaignSettings,
    default_region: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """The errors ingest would report for these targets, without a database:
    lets a client check a whole file before anything is created."""
    campaign = Campaign(id="", organization_id="", settings={})
    region = settings.phone_region or default_region
    errors: list[dict[str, Any]] = []
    seen: dict[str, _Prepared] = {}
    for index, raw in enumerate(raw_targets):
        item = _validate(index, raw, errors)
        if item is None:
            continue
        prepared = _prepare(
            index,
            item,
            campaign=campaign,
            settings=settings,
            region=region,
            now=now,
            errors=errors,
        )
        if prepared is not None and prepared.client_id:
            _clashes(prepared, seen, errors)
    return errors
