"""Listing targets: Prosper's 0-based pages, limits and every filter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from api_support import add_targets, phone, set_target


@pytest.fixture
def listed(tenant, database_url):
    """A campaign with 25 targets: created on three days, some called."""
    cid = tenant.create_campaign()["id"]
    ids = add_targets(
        tenant.client, cid, [{"phone_number": phone(i)} for i in range(25)]
    )["target_ids"]
    for index, target_id in enumerate(ids):
        day = 1 + index // 10  # 10 on Jan 1, 10 on Jan 2, 5 on Jan 3
        values = {"created_at": datetime(2024, 1, day, 12, index, tzinfo=UTC)}
        if index % 5 == 0:
            values.update(
                status="Finished",
                last_call_at=datetime(2024, 2, 1 + index // 5, 9, tzinfo=UTC),
            )
        set_target(database_url, target_id, **values)
    return cid, ids


def _page(tenant, cid, **params):
    response = tenant.client.get(f"/api/v1/campaigns/{cid}/targets", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_pages_are_zero_based_with_page_count_and_next_page(tenant, listed):
    cid, ids = listed
    seen = []
    expected_next = [1, 2, None]
    for page in range(3):
        body = _page(tenant, cid, page=page, limit=10)
        assert body["page_count"] == 3
        assert body["next_page"] == expected_next[page]
        seen += [t["id"] for t in body["targets"]]
    assert seen == ids
    assert _page(tenant, cid, page=3, limit=10)["targets"] == []
    assert _page(tenant, cid)["page_count"] == 3  # default limit 10
    assert len(_page(tenant, cid, limit=100)["targets"]) == 25


@pytest.mark.parametrize("limit", [0, 101, -1, "ten"])
def test_limit_out_of_range_is_refused(tenant, limit):
    cid = tenant.create_campaign()["id"]
    response = tenant.client.get(
        f"/api/v1/campaigns/{cid}/targets", params={"limit": limit}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


def test_negative_page_is_refused(tenant):
    cid = tenant.create_campaign()["id"]
    response = tenant.client.get(
        f"/api/v1/campaigns/{cid}/targets", params={"page": -1}
    )
    assert response.status_code == 422


def test_status_filter(tenant, listed):
    cid, ids = listed
    body = _page(tenant, cid, status="Finished", limit=100)
    assert [t["id"] for t in body["targets"]] == ids[::5]
    assert body["page_count"] == 1 and body["next_page"] is None
    assert _page(tenant, cid, status="Scheduled")["targets"] == []
    response = tenant.client.get(
        f"/api/v1/campaigns/{cid}/targets", params={"status": "finished-ish"}
    )
    assert response.status_code == 422


def test_created_date_filters_take_plain_dates(tenant, listed):
    cid, ids = listed
    body = _page(tenant, cid, from_date="2024-01-02", limit=100)
    assert [t["id"] for t in body["targets"]] == ids[10:]
    body = _page(tenant, cid, to_date="2024-01-02", limit=100)
    assert [t["id"] for t in body["targets"]] == ids[:20]
    body = _page(tenant, cid, from_date="2024-01-02", to_date="2024-01-02", limit=100)
    assert [t["id"] for t in body["targets"]] == ids[10:20]
    body = _page(
        tenant, cid, from_date="2024-01-02T12:15:00Z", to_date="2024-01-03T00:00:00Z"
    )
    assert [t["id"] for t in body["targets"]] == ids[15:20]


def test_last_call_date_filters(tenant, listed):
    cid, ids = listed
    # Called on Feb 1 (index 0), 2 (5), 3 (10), 4 (15), 5 (20).
    body = _page(tenant, cid, from_last_call_date="2024-02-03", limit=100)
    assert [t["id"] for t in body["targets"]] == [ids[10], ids[15], ids[20]]
    body = _page(tenant, cid, to_last_call_date="2024-02-02", limit=100)
    assert [t["id"] for t in body["targets"]] == [ids[0], ids[5]]
    body = _page(
        tenant,
        cid,
        from_last_call_date="2024-02-02",
        to_last_call_date="2024-02-04",
        limit=100,
    )
    assert [t["id"] for t in body["targets"]] == [ids[5], ids[10], ids[15]]
    assert body["targets"][0]["last_call_date"].startswith("2024-02-02T09:00:00")


def test_patient_targets_list_the_same_targets(tenant, listed):
    cid, ids = listed
    response = tenant.client.get(
        f"/api/v1/campaigns/{cid}/patient/targets",
        params={"status": "Finished", "limit": 2, "page": 1},
    )
    body = response.json()
    assert [t["id"] for t in body["targets"]] == [ids[10], ids[15]]
    assert body["page_count"] == 3 and body["next_page"] == 2


def test_targets_by_campaign_query(tenant, listed):
    cid, ids = listed
    other = tenant.create_campaign()["id"]
    add_targets(tenant.client, other, [{"phone_number": phone(99)}])
    response = tenant.client.get(
        "/api/v1/targets", params={"campaign_id": cid, "limit": 100}
    )
    assert [t["id"] for t in response.json()["targets"]] == ids
    response = tenant.client.get("/api/v1/targets", params={"limit": 100})
    assert response.json()["total"] == 26
