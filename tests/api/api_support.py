"""Helpers for the API tests: the Prosper spec as a JSON Schema registry and
rows written straight to the database (call logs, suppressions)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.db.engine import create_engine, create_sessionmaker, transaction
from callfleet.db.models import CallLog, Suppression, Target

SPEC_URI = "urn:prosper-voice-openapi"
# RFC 3339 date-time, checked here so the test does not depend on the optional
# checker packages jsonschema would otherwise need.
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
FORMATS = FormatChecker()


@FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(RFC3339.match(value))


REPO = Path(__file__).resolve().parents[2]


def spec_path() -> Path:
    return REPO.parent / "shared" / "reference" / "prosper-voice-openapi.json"


class Spec:
    """Prosper's OpenAPI document; validates bodies against any schema in it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry = Registry().with_resource(SPEC_URI, resource)

    def operations(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            (method.upper(), path, operation)
            for path, methods in self.document["paths"].items()
            for method, operation in methods.items()
        ]

    def _validator(self, pointer: str) -> Draft202012Validator:
        schema = {"$ref": f"{SPEC_URI}#{quote(pointer, safe='/~')}"}
        return Draft202012Validator(
            schema,
            registry=self.registry,
            format_checker=FORMATS,
        )

    def validate_component(self, name: str, instance: Any) -> None:
        errors = list(
            self._validator(f"/components/schemas/{name}").iter_errors(instance)
        )
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]

    def validate_response(
        self, method: str, path: str, status: int, instance: Any
    ) -> None:
        escaped = path.replace("~", "~0").replace("/", "~1")
        pointer = (
            f"/paths/{escaped}/{method.lower()}/responses/{status}"
            "/content/application~1json/schema"
        )
        errors = list(self._validator(pointer).iter_errors(instance))
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def run_db(database_url: str, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    """Run ``work`` in one committed transaction on a fresh engine."""

    async def main() -> Any:
        engine = create_engine(database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def insert_call_log(
    database_url: str,
    target: dict[str, Any],
    *,
    live: bool = False,
    created_at: datetime | None = None,
    attempt: int = 1,
) -> int:
    """A realistic finished (or live) call for ``target`` as the engine writes
    it; the target is moved along as the engine would. Returns the log id."""
    started = created_at or datetime.now(UTC) - timedelta(minutes=5)

    async def work(session: AsyncSession) -> int:
        log = CallLog(
            organization_id=target["organization_id"],
            campaign_id=target["campaign_id"],
            target_id=target["id"],
            attempt=attempt,
            to_number=target["phone_number"],
            from_number="+12015550100",
            provider="simulator",
            provider_call_id=f"sim-{uuid.uuid4().hex[:12]}",
            state="in_progress" if live else "completed",
            disposition=None if live else "completed",
            provider_code=None if live else 200,
            provider_reason=None if live else "OK",
            call_ended_reason=None if live else "customer-ended-call",
            created_at=started,
            answered_at=started + timedelta(seconds=4),
            ended_at=None if live else started + timedelta(seconds=95),
            completed_at=None if live else started + timedelta(seconds=97),
            duration_s=None if live else 91.0,
            transcripts=[
                {"role": "agent", "content": "Hello, this is Alex."},
                {"role": "user", "content": "Hi, the claim was paid."},
            ],
            post_call_data=None if live else {"claim_status": "paid"},
            qa=None if live else {"score": 92.5, "passed": True},
            call_categorization=None
            if live
            else {"category": "GOOD", "subcategory": None},
            agent_data={"brain": "scripted"},
            provider_data={"codec": "pcmu"},
            recording_urls=[] if live else ["https://recordings.example/1.wav"],
            live_data={"claim_number": "C-1"} if live else {},
            summary=None if live else "The claim was paid.",
        )
        session.add(log)
        await session.flush()
        await session.execute(
            update(Target)
            .where(Target.id == target["id"])
            .values(
                attempt=attempt,
                last_call_at=started,
                status="In Progress" if live else "Finished",
                execution_seconds=0.0 if live else 91.0,
            )
        )
        return log.id

    return run_db(database_url, work)


def suppress(database_url: str, org_id: str, phone_number: str) -> None:
    async def work(session: AsyncSession) -> None:
        session.add(
            Suppression(
                organization_id=org_id, phone_number=phone_number, reason="test"
            )
        )

    run_db(database_url, work)


def set_target(database_url: str, target_id: str, **values: Any) -> None:
    async def work(session: AsyncSession) -> None:
        await session.execute(
            update(Target).where(Target.id == target_id).values(**values)
        )

    run_db(database_url, work)


def add_targets(
    client: httpx.Client, campaign_id: str, targets: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/targets",
        json={"targets": targets, **extra},
    )
    assert response.status_code == 200, response.text
    return response.json()


def phone(n: int) -> str:
    """A valid, distinct US number for each n below 10,000."""
    return f"+1201555{n:04d}"
