"""Campaigns: create with defaults, merge-patch settings, clone, lifecycle,
archive, and a clear 422 for every kind of bad setting."""

from __future__ import annotations

import pytest
from api_support import add_targets, phone


def test_name_only_campaign_has_working_defaults(tenant):
    campaign = tenant.create_campaign()
    assert campaign["status"] == "active"
    assert campaign["direction"] == "outbound"
    assert campaign["agent"]["brain"] == "scripted"
    assert campaign["retry_policy"]["max_attempts"] == 3
    assert campaign["calling_hours"]["monday"]
    assert campaign["telephony"]["provider"] == "simulator"
    assert campaign["qa"]["criteria"]
    assert campaign["webhook_endpoints"] == []

    response = tenant.client.get(f"/api/v1/campaigns/{campaign['id']}")
    assert response.status_code == 200
    assert response.json()["target_counts"] == {}
    listed = tenant.client.get("/api/v1/campaigns").json()["campaigns"]
    assert campaign["id"] in [c["id"] for c in listed]


def test_patch_is_a_json_merge_patch(tenant):
    campaign = tenant.create_campaign(
        agent={"first_message": "Hi {{ name }}", "verification_keys": ["npi"]},
        sla_hours=48,
    )
    response = tenant.client.patch(
        f"/api/v1/campaigns/{campaign['id']}",
        json={
            "name": "Renamed",
            "agent": {"verification_keys": ["npi", "tax_id"]},
            "sla_hours": None,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Renamed"
    assert body["agent"]["first_message"] == "Hi {{ name }}"
    assert body["agent"]["verification_keys"] == ["npi", "tax_id"]
    assert body["sla_hours"] is None
    again = tenant.client.get(f"/api/v1/campaigns/{campaign['id']}").json()
    assert again["agent"]["verification_keys"] == ["npi", "tax_id"]
    assert again["name"] == "Renamed"


def test_patch_names_the_bad_setting(tenant):
    campaign = tenant.create_campaign()
    response = tenant.client.patch(
        f"/api/v1/campaigns/{campaign['id']}",
        json={"concurrency": {"max_concurrent_calls": 0}},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == [
        "body",
        "concurrency",
        "max_concurrent_calls",
    ]
    response = tenant.client.patch(
        f"/api/v1/campaigns/{campaign['id']}", json={"status": "paused"}
    )
    assert response.status_code == 422
    unchanged = tenant.client.get(f"/api/v1/campaigns/{campaign['id']}").json()
    assert unchanged["concurrency"]["max_concurrent_calls"] == 5
    assert unchanged["status"] == "active"


def test_clone_copies_settings_not_targets(tenant):
    campaign = tenant.create_campaign(
        agent={"instructions": "Ask about {{ claim_number }}"},
        retry_policy={"max_attempts": 5},
    )
    add_targets(tenant.client, campaign["id"], [{"phone_number": phone(1)}])
    response = tenant.client.post(f"/api/v1/campaigns/{campaign['id']}/clone")
    assert response.status_code == 201
    clone = response.json()
    assert clone["id"] != campaign["id"]
    assert clone["name"] == "Test campaign (copy)"
    assert clone["agent"] == campaign["agent"]
    assert clone["retry_policy"] == campaign["retry_policy"]
    targets = tenant.client.get(f"/api/v1/campaigns/{clone['id']}/targets").json()
    assert targets["targets"] == []
    named = tenant.client.post(
        f"/api/v1/campaigns/{campaign['id']}/clone", json={"name": "Second wave"}
    )
    assert named.json()["name"] == "Second wave"


def test_pause_resume_cancel_transitions(tenant):
    campaign = tenant.create_campaign()
    cid = campaign["id"]
    ids = add_targets(
        tenant.client, cid, [{"phone_number": phone(i)} for i in range(2)], launch=True
    )["target_ids"]

    def act(action):
        return tenant.client.post(f"/api/v1/campaigns/{cid}/{action}")

    assert act("resume").status_code == 409
    assert act("pause").json()["status"] == "paused"
    assert act("pause").status_code == 409
    assert act("resume").json()["status"] == "active"
    cancelled = act("cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["target_counts"] == {"Failed": 2}
    for target_id in ids:
        target = tenant.client.get(f"/api/v1/targets/{target_id}").json()
        assert target["outcome"] == "campaign_cancelled"
    for action in ("pause", "resume", "cancel"):
        response = act(action)
        assert response.status_code == 409
        assert "cancelled" in response.json()["detail"]
    response = tenant.client.post(
        f"/api/v1/campaigns/{cid}/targets",
        json={"targets": [{"phone_number": phone(5)}]},
    )
    assert response.status_code == 409


def test_delete_archives(tenant):
    cid = tenant.create_campaign()["id"]
    add_targets(tenant.client, cid, [{"phone_number": phone(1)}])
    response = tenant.client.delete(f"/api/v1/campaigns/{cid}")
    assert response.status_code == 200
    assert response.json()["status"] == "archived"
    listed = tenant.client.get("/api/v1/campaigns").json()["campaigns"]
    assert cid not in [c["id"] for c in listed]
    archived = tenant.client.get(
        "/api/v1/campaigns", params={"include_archived": "true"}
    ).json()["campaigns"]
    assert cid in [c["id"] for c in archived]
    # Still readable, with its targets.
    assert tenant.client.get(f"/api/v1/campaigns/{cid}").status_code == 200
    targets = tenant.client.get(f"/api/v1/campaigns/{cid}/targets").json()
    assert targets["targets"][0]["status"] == "Failed"
    assert tenant.client.patch(f"/api/v1/campaigns/{cid}", json={}).status_code == 409


BAD_SETTINGS = [
    ({"calling_hours": {"tz": "Mars/Olympus"}}, ["calling_hours", "tz"], "Mars"),
    (
        {"calling_hours": {"monday": [{"start": "9am", "end": "17:00"}]}},
        ["calling_hours", "monday", 0, "start"],
        "HH:MM",
    ),
    (
        {"calling_hours": {"monday": [{"start": "10:00", "end": "10:00"}]}},
        ["calling_hours", "monday", 0],
        "empty interval",
    ),
    (
        {"post_call": {"fields": [{"name": "status", "type": "enum"}]}},
        ["post_call", "fields", 0],
        "values",
    ),
    (
        {
            "post_call": {
                "fields": [
                    {"name": "amount", "type": "money"},
                    {"name": "amount", "type": "string"},
                ]
            }
        },
        ["post_call", "fields"],
        "amount",
    ),
    ({"agent": {"brain": "llm"}}, ["agent"], "llm"),
    (
        {"telephony": {"simulation": {"scenarios": {"busy": -1}}}},
        ["telephony", "simulation", "scenarios"],
        "negative",
    ),
    (
        {"qa": {"criteria": [{"name": "x", "weight": -2, "check": "greeting"}]}},
        ["qa", "criteria", 0, "weight"],
        "greater than 0",
    ),
    ({"retry_policy": {"max_attempts": 0}}, ["retry_policy", "max_attempts"], "1"),
    (
        {"retry_policy": {"rules": {"lunch": {}}}},
        ["retry_policy", "rules", "lunch"],
        "no_answer",
    ),
    ({"agent": {"first_message": "Hi {{ name"}}, ["agent", "first_message"], "templ"),
    ({"phone_region": "XX"}, ["phone_region"], "XX"),
    ({"deadline": "2026-12-31T17:00:00"}, ["deadline"], "UTC offset"),
    ({"telephony": {"caller_ids": ["call me"]}}, ["telephony", "caller_ids"], "E.164"),
    (
        {"notifications": {"webhooks": [{"url": "ftp://x"}]}},
        ["notifications", "webhooks", 0, "url"],
        "http",
    ),
    ({"unknown_setting": 1}, ["unknown_setting"], "Extra"),
    ({"name": ""}, ["name"], "at least 1"),
]


@pytest.mark.parametrize(("settings", "loc", "words"), BAD_SETTINGS)
def test_every_bad_setting_gives_a_clear_422(tenant, settings, loc, words):
    body = {"name": "Bad", **settings}
    response = tenant.client.post("/api/v1/campaigns", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    matching = [e for e in errors if e["loc"][1 : 1 + len(loc)] == loc]
    assert matching, errors
    assert any(words in e["msg"] for e in matching), matching

    # The same mistake made by PATCH names the same setting.
    cid = tenant.create_campaign()["id"]
    response = tenant.client.patch(f"/api/v1/campaigns/{cid}", json=settings)
    assert response.status_code == 422, response.text
    assert any(e["loc"][1 : 1 + len(loc)] == loc for e in response.json()["detail"])


def test_calling_hours_given_cover_only_the_days_named(tenant):
    campaign = tenant.create_campaign(
        calling_hours={"monday": [{"start": "22:00", "end": "02:00"}], "tz": "UTC"}
    )
    hours = campaign["calling_hours"]
    assert hours["monday"] == [{"start": "22:00", "end": "02:00"}]
    assert all(hours[day] == [] for day in ("tuesday", "friday", "saturday", "sunday"))

    default = tenant.create_campaign()["calling_hours"]
    assert default["monday"] == [{"start": "08:00", "end": "21:00"}]
    assert default["sunday"] == []


def test_hours_with_no_interval_at_all_are_refused(tenant):
    response = tenant.client.post(
        "/api/v1/campaigns", json={"name": "never", "calling_hours": {"tz": "UTC"}}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", "calling_hours"]

    campaign_id = tenant.create_campaign()["id"]
    response = tenant.client.post(
        f"/api/v1/campaigns/{campaign_id}/targets",
        json={
            "targets": [
                {
                    "phone_number": {
                        "value": "+12015550123",
                        "operating_hours": {"tz": "UTC"},
                    }
                }
            ]
        },
    )
    assert response.status_code == 422
    messages = [
        error["msg"]
        for error in response.json()["detail"]
        if "operating_hours" in error["loc"]
    ]
    assert messages and "no interval on any day" in messages[0]
