"""Several clients posting the same targets at the same time."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx


def _post_many(
    tenant, campaign_id: str, body: dict, copies: int
) -> list[httpx.Response]:
    def post(_: int) -> httpx.Response:
        with httpx.Client(
            base_url=str(tenant.client.base_url),
            headers={"X-Api-Key": tenant.key},
            timeout=60,
        ) as client:
            return client.post(f"/api/v1/campaigns/{campaign_id}/targets", json=body)

    with ThreadPoolExecutor(copies) as pool:
        return list(pool.map(post, range(copies)))


def _count(tenant, campaign_id: str) -> int:
    body = tenant.client.get(f"/api/v1/campaigns/{campaign_id}/targets").json()
    return body["total"]


def test_same_ids_posted_concurrently_are_stored_once(tenant):
    campaign_id = tenant.create_campaign()["id"]
    targets = [
        {"id": str(uuid.uuid4()), "phone_number": f"+1201555{n:04d}"} for n in range(20)
    ]

    responses = _post_many(tenant, campaign_id, {"targets": targets}, copies=8)

    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sum(r.json()["created"] for r in responses) == 20
    assert sum(r.json()["already_present"] for r in responses) == 20 * 7
    assert _count(tenant, campaign_id) == 20


def test_external_ids_stay_unique_without_duplicates_under_concurrency(tenant):
    campaign_id = tenant.create_campaign()["id"]
    targets = [
        {"external_id": f"X{n}", "phone_number": f"+1312555{n:04d}"} for n in range(15)
    ]
    body = {"targets": targets, "allow_duplicates": False}

    responses = _post_many(tenant, campaign_id, body, copies=6)

    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sum(r.json()["created"] for r in responses) == 15
    assert _count(tenant, campaign_id) == 15
    skipped = [
        res
        for r in responses
        for res in r.json()["results"]
        if res["result"] == "skipped"
    ]
    assert len(skipped) == 15 * 5
    assert all(res["id"] is None for res in skipped)
