"""The webhook APIs: rerun, deliveries, retry, rotation, tests, isolation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from webhook_support import Receiver, finish_attempt, wait_for

from callfleet.api.app import create_app
from callfleet.clock import FakeClock
from callfleet.config import Config
from callfleet.db.engine import create_engine, create_sessionmaker, migrate
from callfleet.notifications import delivery
from callfleet.notifications.delivery import DeliveryWorker
from callfleet.notifications.outbox import isoformat
from testsupport import ServerThread, fresh_database_url, new_api_key


class Stack:
    """An API on a database of its own, with a test clock shared by a worker."""

    def __init__(self, url: str, clock: FakeClock, server: ServerThread) -> None:
        self.url = url
        self.clock = clock
        self.server = server
        org_id, key = new_api_key(url)
        self.org_id = org_id
        self.client = httpx.Client(
            base_url=server.url, headers={"X-Api-Key": key}, timeout=30
        )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    url, drop = fresh_database_url(tmp_path)
    migrate(url)
    clock = FakeClock()
    config = Config(database_url=url, webhook_allow_private=True)
    with ServerThread(create_app(config, clock=clock)) as server:
        running = Stack(url, clock, server)
        yield running
        running.client.close()
    drop()


async def drive(stack: Stack, until_settled: bool = True) -> None:
    """Run a worker on the stack's clock until no delivery is pending."""
    engine = create_engine(stack.url)
    try:
        worker = DeliveryWorker(
            create_sessionmaker(engine), Config(webhook_allow_private=True), stack.clock
        )
        while True:
            await worker.drain()
            pending = await _next_pending(engine)
            if pending is None or not until_settled:
                return
            stack.clock.set(pending)
    finally:
        await engine.dispose()


async def _next_pending(engine: Any) -> Any:
    from callfleet.notifications import repository

    async with create_sessionmaker(engine)() as session:
        return await repository.next_due(session)


def create_campaign(client: httpx.Client, url: str, **webhook: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/campaigns",
        json={
            "name": "Webhook campaign",
            "notifications": {"webhooks": [{"url": url, **webhook}]},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_rerun_failed_resends_only_failed_in_window_with_same_id(
    stack: Stack,
) -> None:
    receiver = Receiver(secrets=[]).start()
    try:
        campaign = create_campaign(stack.client, receiver.url)
        receiver.secrets = [campaign["webhook_endpoints"][0]["secret"]]
        target_ids = _post_targets(stack, campaign["id"], 3)
        engine = create_engine(stack.url)
        sessionmaker = create_sessionmaker(engine)
        created = []
        for target_id in target_ids:
            created.append(stack.clock.now())
            await finish_attempt(sessionmaker, target_id, stack.clock.now(), final=True)
            stack.clock.advance(hours=1)
        await engine.dispose()

        # The second target's webhook gets through; the others fail for a day.
        second = target_ids[1]
        receiver.status_for = lambda item: (
            200 if item.payload["target_id"] == second else 500
        )
        await drive(stack)
        failed = stack.client.get(
            "/api/v1/webhook-deliveries",
            params={"campaign_id": campaign["id"], "status": "failed"},
        ).json()
        assert failed["total"] == 2
        assert all(
            len(d["attempt_log"]) == d["attempts"] > 1 for d in failed["deliveries"]
        )
        first_id = next(
            d["event_id"]
            for d in failed["deliveries"]
            if d["target_id"] == target_ids[0]
        )

        receiver.status_for = None
        before = len(receiver.received)
        response = stack.client.post(
            f"/api/v1/campaigns/{campaign['id']}/webhooks/rerun-failed",
            json={"from_date": isoformat(created[0]), "to_date": isoformat(created[1])},
        )
        assert response.status_code == 202
        assert response.json() == {"requeued": 1}
        await drive(stack)
        resent = receiver.received[before:]
        assert [r.webhook_id for r in resent] == [first_id]
        assert resent[0].verified_by == receiver.secrets
        listing = stack.client.get(
            "/api/v1/webhook-deliveries", params={"campaign_id": campaign["id"]}
        ).json()
        statuses = {d["target_id"]: d["status"] for d in listing["deliveries"]}
        assert statuses == {
            target_ids[0]: "succeeded",
            target_ids[1]: "succeeded",
            target_ids[2]: "failed",
        }
    finally:
        receiver.stop()


async def test_retry_one_delivery_and_page_through(stack: Stack) -> None:
    receiver = Receiver(secrets=[]).start()
    try:
        campaign = create_campaign(stack.client, receiver.url)
        target_ids = _post_targets(stack, campaign["id"], 3)
        engine = create_engine(stack.url)
        for target_id in target_ids:
            await finish_attempt(
                create_sessionmaker(engine), target_id, stack.clock.now(), final=True
            )
        await engine.dispose()
        await drive(stack)

        page0 = stack.client.get(
            "/api/v1/webhook-deliveries", params={"limit": 2}
        ).json()
        page1 = stack.client.get(
            "/api/v1/webhook-deliveries", params={"limit": 2, "page": 1}
        ).json()
        assert (page0["total"], page0["page_count"], page0["next_page"]) == (3, 2, 1)
        assert len(page0["deliveries"]) == 2 and len(page1["deliveries"]) == 1
        assert page1["next_page"] is None
        one = page1["deliveries"][0]
        assert one["status"] == "succeeded"
        assert one["attempt_log"][0]["status_code"] == 200

        response = stack.client.post(f"/api/v1/webhook-deliveries/{one['id']}/retry")
        assert response.status_code == 202
        assert response.json()["status"] == "pending"
        await drive(stack)
        assert receiver.ids().count(one["event_id"]) == 2
        again = stack.client.get(f"/api/v1/webhook-deliveries/{one['id']}").json()
        assert again["status"] == "succeeded" and len(again["attempt_log"]) == 2
    finally:
        receiver.stop()


async def test_rotate_secret_over_the_api(stack: Stack) -> None:
    receiver = Receiver(secrets=[]).start()
    try:
        campaign = create_campaign(stack.client, receiver.url)
        endpoint = campaign["webhook_endpoints"][0]
        old = endpoint["secret"]
        response = stack.client.post(
            f"/api/v1/campaigns/{campaign['id']}/webhook-endpoints/"
            f"{endpoint['id']}/rotate-secret"
        )
        assert response.status_code == 200
        new = response.json()["secret"]
        assert new.startswith("whsec_") and new != old
        read = stack.client.get(f"/api/v1/campaigns/{campaign['id']}").text
        assert old not in read and new not in read

        receiver.secrets = [old, new]
        response = stack.client.post(
            f"/api/v1/campaigns/{campaign['id']}/notifications/test"
        )
        assert response.status_code == 202
        body = response.json()
        assert [d["endpoint_id"] for d in body["deliveries"]] == [endpoint["id"]]
        await drive(stack)
        (item,) = receiver.received
        assert item.webhook_id == body["event_id"]
        assert item.payload["event"] == "test"
        assert item.verified_by == [old, new]
        listing = stack.client.get("/api/v1/webhook-deliveries").text
        assert old not in listing and new not in listing
    finally:
        receiver.stop()


async def test_test_event_is_a_single_attempt(stack: Stack) -> None:
    receiver = Receiver(secrets=[], statuses=[500]).start()
    try:
        campaign = create_campaign(stack.client, receiver.url)
        response = stack.client.post(
            f"/api/v1/campaigns/{campaign['id']}/notifications/test"
        )
        (test_delivery,) = response.json()["deliveries"]
        await drive(stack, until_settled=False)
        view = stack.client.get(
            f"/api/v1/webhook-deliveries/{test_delivery['delivery_id']}"
        ).json()
        assert view["status"] == "failed" and view["last_status_code"] == 500
    finally:
        receiver.stop()


def test_other_organizations_see_nothing(tenant: Any, other_tenant: Any) -> None:
    campaign = tenant.create_campaign(
        notifications={"webhooks": [{"url": "http://127.0.0.1:9/hooks"}]}
    )
    endpoint_id = campaign["webhook_endpoints"][0]["id"]
    test = tenant.client.post(f"/api/v1/campaigns/{campaign['id']}/notifications/test")
    assert test.status_code == 202
    delivery_id = test.json()["deliveries"][0]["delivery_id"]
    mine = tenant.client.get(
        "/api/v1/webhook-deliveries", params={"campaign_id": campaign["id"]}
    ).json()
    assert [d["id"] for d in mine["deliveries"]] == [delivery_id]

    other = other_tenant.client
    window = {"from_date": "2000-01-01T00:00:00Z", "to_date": "2100-01-01T00:00:00Z"}
    assert (
        other.get(
            "/api/v1/webhook-deliveries", params={"campaign_id": campaign["id"]}
        ).json()["deliveries"]
        == []
    )
    assert delivery_id not in other.get("/api/v1/webhook-deliveries").text
    for response in (
        other.get(f"/api/v1/webhook-deliveries/{delivery_id}"),
        other.post(f"/api/v1/webhook-deliveries/{delivery_id}/retry"),
        other.post(
            f"/api/v1/campaigns/{campaign['id']}/webhooks/rerun-failed", json=window
        ),
        other.post(f"/api/v1/campaigns/{campaign['id']}/notifications/test"),
        other.post(
            f"/api/v1/campaigns/{campaign['id']}/webhook-endpoints/"
            f"{endpoint_id}/rotate-secret"
        ),
    ):
        assert response.status_code == 404, response.text


def test_rerun_window_must_be_ordered(tenant: Any) -> None:
    campaign = tenant.create_campaign()
    response = tenant.client.post(
        f"/api/v1/campaigns/{campaign['id']}/webhooks/rerun-failed",
        json={"from_date": "2026-02-01T00:00:00Z", "to_date": "2026-01-01T00:00:00Z"},
    )
    assert response.status_code == 422


def _post_targets(stack: Stack, campaign_id: str, count: int) -> list[str]:
    response = stack.client.post(
        f"/api/v1/campaigns/{campaign_id}/targets",
        json={
            "targets": [
                {"phone_number": f"+1201555{1000 + i:04d}", "input_data": {"i": i}}
                for i in range(count)
            ]
        },
    )
    assert response.status_code in (200, 201), response.text
    ids = response.json()["target_ids"]
    assert len(ids) == count
    return ids


def test_backoff_caps_grow_to_hours() -> None:
    caps = delivery.BACKOFF_S
    assert caps[0] == 5 and caps[-1] == 8 * 3600
    assert list(caps) == sorted(caps)
    assert all(
        delivery.MIN_DELAY_S <= delivery.retry_delay(n) <= caps[min(n, len(caps)) - 1]
        for n in range(1, 20)
    )


async def test_queue_wait_is_short_when_idle(stack: Stack) -> None:
    # A regression guard on the poll loop: an event queued while the worker
    # idles is picked up without waiting for the clock to move.
    receiver = Receiver(secrets=[]).start()
    try:
        campaign = create_campaign(stack.client, receiver.url)
        engine = create_engine(stack.url)
        worker = DeliveryWorker(
            create_sessionmaker(engine), Config(webhook_allow_private=True), stack.clock
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            stack.client.post(f"/api/v1/campaigns/{campaign['id']}/notifications/test")
            await wait_for(lambda: len(receiver.received) == 1)
        finally:
            stop.set()
            await task
            await engine.dispose()
    finally:
        receiver.stop()
