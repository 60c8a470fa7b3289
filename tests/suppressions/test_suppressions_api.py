"""The do-not-call list over HTTP: numbers normalized, organization-wide, and
honoured at ingest."""

from __future__ import annotations


def test_add_list_and_delete(tenant, other_tenant):
    client = tenant.client
    response = client.post(
        "/api/v1/suppressions",
        json={"phone_numbers": ["(212) 555-0301", "+1 212 555 0302"], "reason": "x"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] == 2
    assert [s["phone_number"] for s in body["suppressions"]] == [
        "+12125550301",
        "+12125550302",
    ]
    assert all(s["source"] == "api" for s in body["suppressions"])

    again = client.post("/api/v1/suppressions", json={"phone_number": "2125550301"})
    assert again.json()["created"] == 0 and again.json()["already_present"] == 1

    listed = client.get("/api/v1/suppressions").json()
    assert listed["total"] == 2
    one = client.get(
        "/api/v1/suppressions", params={"phone_number": "212-555-0302"}
    ).json()
    assert [s["phone_number"] for s in one["suppressions"]] == ["+12125550302"]

    # Another organization sees none of it and cannot delete it.
    assert other_tenant.client.get("/api/v1/suppressions").json()["total"] == 0
    assert (
        other_tenant.client.delete("/api/v1/suppressions/+12125550301").status_code
        == 404
    )

    assert client.delete("/api/v1/suppressions/+12125550301").status_code == 200
    by_id = one["suppressions"][0]["id"]
    assert client.delete(f"/api/v1/suppressions/{by_id}").status_code == 200
    assert client.get("/api/v1/suppressions").json()["total"] == 0


def test_invalid_numbers_are_refused_with_their_index(tenant):
    response = tenant.client.post(
        "/api/v1/suppressions", json={"phone_numbers": ["+12125550303", "nope"]}
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "phone_numbers", 1]
    assert tenant.client.get("/api/v1/suppressions").json()["total"] == 0
    assert tenant.client.post("/api/v1/suppressions", json={}).status_code == 422


def test_suppressed_number_ends_at_ingest(tenant):
    tenant.client.post("/api/v1/suppressions", json={"phone_number": "+12125550304"})
    campaign = tenant.create_campaign()
    response = tenant.client.post(
        f"/api/v1/campaigns/{campaign['id']}/targets",
        json={"targets": [{"phone_number": "+12125550304"}], "launch": True},
    )
    assert response.status_code in (200, 201), response.text
    [target_id] = response.json()["target_ids"]
    target = tenant.client.get(f"/api/v1/targets/{target_id}").json()
    assert target["status"] == "Failed"
    assert target["category"] == "BLACKLISTED_PHONE"
