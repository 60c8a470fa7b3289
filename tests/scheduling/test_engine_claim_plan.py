"""On PostgreSQL the claim query is served by the targets' due index, not by a
scan of the campaign."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from callfleet.db.engine import transaction
from callfleet.db.models import Target
from callfleet.scheduling.repository import claim_query

pytestmark = pytest.mark.skipif(
    not os.environ.get("CALLFLEET_TEST_DATABASE_URL"), reason="PostgreSQL only"
)


async def test_claim_query_uses_the_due_index(world):
    campaign_id = await world.campaign()
    other_id = await world.campaign()
    now = world.clock.now()
    statuses = ["Finished", "Failed", "Pending", "Scheduled"]
    rows = [
        {
            "id": str(uuid.uuid4()),
            "organization_id": world.org_id,
            "campaign_id": campaign_id if i % 2 else other_id,
            "phone_number": "+12125550400",
            "timezones": [],
            "input_data": {},
            "output_data": {},
            "content_hash": "x",
            "status": statuses[i % 4],
            "next_attempt_at": now + timedelta(minutes=i % 500 - 100),
            "queue_rank": i,
        }
        for i in range(20_000)
    ]
    async with transaction(world.sessionmaker) as session:
        await session.execute(insert(Target), rows)
        await session.execute(text("ANALYZE targets"))

    statement = claim_query(campaign_id, now, 50)
    async with world.engine.connect() as connection:
        compiled = statement.compile(
            dialect=connection.dialect, compile_kwargs={"literal_binds": True}
        )
        plan = "\n".join(
            row[0] for row in await connection.execute(text(f"EXPLAIN {compiled}"))
        )
    assert "ix_targets_campaign_status_due" in plan, plan
    assert "Seq Scan on targets" not in plan, plan
