"""Deleting, launching, editing and cancelling targets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from api_support import add_targets, insert_call_log, phone, set_target


def _new(tenant, n=3, **settings):
    cid = tenant.create_campaign(**settings)["id"]
    ids = add_targets(
        tenant.client, cid, [{"phone_number": phone(i)} for i in range(n)]
    )["target_ids"]
    return cid, ids


def _status(tenant, target_id):
    return tenant.client.get(f"/api/v1/targets/{target_id}").json()["status"]


def test_delete_reports_not_found_and_in_progress(tenant, database_url):
    cid, ids = _new(tenant)
    target = tenant.client.get(f"/api/v1/targets/{ids[1]}").json()
    log_id = insert_call_log(database_url, target, live=True)
    unknown = str(uuid.uuid4())
    response = tenant.client.request(
        "DELETE",
        f"/api/v1/campaigns/{cid}/targets",
        json={"target_ids": [ids[0], ids[1], unknown, ids[0]]},
    )
    assert response.status_code == 200
    assert response.json() == {
        "deleted": 1,
        "deleted_ids": [ids[0]],
        "not_found": [unknown],
        "in_progress": [ids[1]],
    }
    assert tenant.client.get(f"/api/v1/targets/{ids[0]}").status_code == 404
    assert _status(tenant, ids[1]) == "In Progress"
    assert tenant.client.get(f"/api/v1/call-logs/{log_id}").status_code == 200


def test_launch_by_ids_reports_what_was_not_launched(tenant):
    cid, ids = _new(tenant)
    tenant.client.post(f"/api/v1/targets/{ids[2]}/cancel")
    unknown = str(uuid.uuid4())
    response = tenant.client.post(
        f"/api/v1/campaigns/{cid}/calls", json={"target_ids": [ids[0], ids[2], unknown]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["launched"] == 1 and body["target_ids"] == [ids[0]]
    assert {entry["id"] for entry in body["not_launched"]} == {ids[2], unknown}
    assert _status(tenant, ids[0]) == "Scheduled"
    assert _status(tenant, ids[1]) == "Pending"


def test_launch_count_random_and_oldest_first(tenant, database_url):
    cid, ids = _new(tenant, n=6)
    # Make the creation order differ from insertion order.
    for offset, target_id in enumerate(reversed(ids)):
        set_target(
            database_url,
            target_id,
            created_at=datetime(2024, 1, 1, 9, offset, tzinfo=UTC),
        )
    response = tenant.client.post(
        f"/api/v1/campaigns/{cid}/calls", json={"count": 2, "prioritize_oldest": True}
    )
    assert response.json()["target_ids"] == [ids[5], ids[4]]

    response = tenant.client.post(f"/api/v1/campaigns/{cid}/calls", json={"count": 3})
    launched = response.json()["target_ids"]
    assert len(launched) == 3 and set(launched) <= set(ids[:4])

    response = tenant.client.post(f"/api/v1/campaigns/{cid}/calls", json={"count": 10})
    assert response.json()["launched"] == 1
    assert all(_status(tenant, i) == "Scheduled" for i in ids)


def test_launch_needs_exactly_one_of_ids_and_count(tenant):
    cid, ids = _new(tenant, n=1)
    for body in ({}, {"target_ids": ids, "count": 1}, {"prioritize_oldest": True}):
        response = tenant.client.post(f"/api/v1/campaigns/{cid}/calls", json=body)
        assert response.status_code == 422, body
        assert "exactly one" in response.json()["detail"][0]["msg"]
    response = tenant.client.post(f"/api/v1/campaigns/{cid}/calls", json={"count": 0})
    assert response.status_code == 422
    assert _status(tenant, ids[0]) == "Pending"


def test_variables_from_templates_and_verification_keys(tenant):
    campaign = tenant.create_campaign(
        agent={
            "first_message": "Calling about claim {{ claim_number }} for "
            "{{ patient.name }}, I am {{ agent_name }}.",
            "instructions": "{% if dos %}Date of service {{ dos }}{% endif %}",
            "verification_keys": ["npi", "tax_id"],
        }
    )
    response = tenant.client.get(f"/api/v1/campaigns/{campaign['id']}/variables")
    assert response.json() == {
        "campaign_id": campaign["id"],
        "variables": ["claim_number", "dos", "npi", "patient", "tax_id"],
    }


def test_patch_merges_input_data_shallowly(tenant):
    cid = tenant.create_campaign()["id"]
    target_id = add_targets(
        tenant.client,
        cid,
        [{"phone_number": phone(1), "input_data": {"a": 1, "nested": {"x": 1}}}],
    )["target_ids"][0]
    response = tenant.client.patch(
        f"/api/v1/targets/{target_id}",
        json={"input_data": {"b": 2, "nested": {"y": 2}}},
    )
    assert response.status_code == 200
    assert response.json()["input_data"] == {"a": 1, "b": 2, "nested": {"y": 2}}
    stored = tenant.client.get(f"/api/v1/targets/{target_id}").json()
    assert stored["input_data"] == {"a": 1, "b": 2, "nested": {"y": 2}}


def test_patch_started_target_needs_only_if_not_started_false(tenant, database_url):
    cid, ids = _new(tenant, n=2)
    tenant.client.post(f"/api/v1/campaigns/{cid}/calls", json={"target_ids": ids})
    # Scheduled without a call is still editable.
    response = tenant.client.patch(
        f"/api/v1/targets/{ids[1]}", json={"input_data": {"a": 1}}
    )
    assert response.status_code == 200

    target = tenant.client.get(f"/api/v1/targets/{ids[0]}").json()
    insert_call_log(database_url, target)
    response = tenant.client.patch(
        f"/api/v1/targets/{ids[0]}", json={"input_data": {"a": 1}}
    )
    assert response.status_code == 409
    assert "only_if_not_started" in response.json()["detail"]
    response = tenant.client.patch(
        f"/api/v1/targets/{ids[0]}",
        json={"input_data": {"a": 1}, "only_if_not_started": False},
    )
    assert response.status_code == 200
    assert response.json()["input_data"] == {"a": 1}


def test_patch_timezone_is_validated(tenant):
    cid, ids = _new(tenant, n=1)
    response = tenant.client.patch(
        f"/api/v1/targets/{ids[0]}", json={"input_data": {"timezone": "Atlantis"}}
    )
    assert response.status_code == 422
    response = tenant.client.patch(
        f"/api/v1/targets/{ids[0]}", json={"input_data": {"timezone": "Europe/Paris"}}
    )
    assert response.json()["timezones"] == ["Europe/Paris"]


def test_cancel_target(tenant, database_url):
    cid, ids = _new(tenant, n=2)
    response = tenant.client.post(f"/api/v1/targets/{ids[0]}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "Failed"
    assert response.json()["outcome"] == "cancelled"
    assert tenant.client.post(f"/api/v1/targets/{ids[0]}/cancel").status_code == 409

    target = tenant.client.get(f"/api/v1/targets/{ids[1]}").json()
    insert_call_log(database_url, target, live=True)
    response = tenant.client.post(f"/api/v1/targets/{ids[1]}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "In Progress"
    unknown = tenant.client.post(f"/api/v1/targets/{uuid.uuid4()}/cancel")
    assert unknown.status_code == 404
