"""API keys and organizations: both header styles, key lifecycle, the CLI, and
no route ever reaching another organization's objects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from api_support import add_targets, insert_call_log, phone

from callfleet.config import Config

CLI = Path(sys.executable).parent / "callfleet"


def test_both_header_styles_work(server, tenant):
    for headers in (
        {"X-Api-Key": tenant.key},
        {"Authorization": f"Bearer {tenant.key}"},
    ):
        response = httpx.get(f"{server.url}/api/v1/campaigns", headers=headers)
        assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Api-Key": "cf_wrong-key-000000000000"},
        {"Authorization": "Bearer cf_wrong-key-000000000000"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-Api-Key": ""},
    ],
)
def test_missing_or_wrong_key_is_401(server, headers):
    for path in ("/api/v1/campaigns", "/api/v1/targets", "/api/v1/call-logs"):
        response = httpx.get(f"{server.url}{path}", headers=headers)
        assert response.status_code == 401, (path, headers)
        assert response.json()["detail"]


def test_health_needs_no_key(server):
    assert httpx.get(f"{server.url}/api/v1/health").status_code == 200


def test_created_keys_are_shown_once_listed_without_secret_and_deletable(
    server, tenant
):
    response = tenant.client.post("/api/v1/api-keys", json={"name": "ci"})
    assert response.status_code == 201
    created = response.json()
    secret = created["key"]
    assert created["prefix"] == secret[:10]

    listed = tenant.client.get("/api/v1/api-keys").json()["api_keys"]
    assert created["id"] in [k["id"] for k in listed]
    assert secret not in str(listed)
    assert all("key" not in k for k in listed)

    with httpx.Client(base_url=server.url, headers={"X-Api-Key": secret}) as client:
        assert client.get("/api/v1/campaigns").status_code == 200
        response = tenant.client.delete(f"/api/v1/api-keys/{created['id']}")
        assert response.status_code == 200
        assert client.get("/api/v1/campaigns").status_code == 401
    assert tenant.client.delete(f"/api/v1/api-keys/{created['id']}").status_code == 404
    # The key that made the requests still works.
    assert tenant.client.get("/api/v1/api-keys").status_code == 200


def test_cli_creates_a_working_key(server, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = subprocess.run(
        [str(CLI), "keys", "create", "--org", "Acme Billing", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("cf_")

    from callfleet.api.app import create_app

    with type(server)(create_app(Config(database_url=url))) as running:
        headers = {"Authorization": f"Bearer {key}"}
        response = httpx.post(
            f"{running.url}/api/v1/campaigns", json={"name": "x"}, headers=headers
        )
        assert response.status_code == 201
        bad = httpx.get(f"{running.url}/api/v1/campaigns", headers={"X-Api-Key": "n"})
        assert bad.status_code == 401


@pytest.fixture
def foreign(other_tenant, database_url):
    """Another organization's campaign, targets, call log and API key."""
    campaign = other_tenant.create_campaign(
        agent={"first_message": "About {{ claim_number }}"}
    )
    ids = add_targets(
        other_tenant.client,
        campaign["id"],
        [
            {"phone_number": phone(i), "input_data": {"claim_number": f"F-{i}"}}
            for i in range(3)
        ],
    )["target_ids"]
    target = other_tenant.client.get(f"/api/v1/targets/{ids[0]}").json()
    log_id = insert_call_log(database_url, target)
    key = other_tenant.client.post("/api/v1/api-keys", json={}).json()
    return {
        "campaign": campaign["id"],
        "targets": ids,
        "call_log": log_id,
        "api_key": key["id"],
        "phone": target["phone_number"],
    }


def test_every_route_with_an_id_hides_other_organizations(tenant, foreign):
    c, t = foreign["campaign"], foreign["targets"][1]
    calls = [
        ("GET", f"/api/v1/campaigns/{c}", None),
        ("PATCH", f"/api/v1/campaigns/{c}", {"name": "mine now"}),
        ("DELETE", f"/api/v1/campaigns/{c}", None),
        ("POST", f"/api/v1/campaigns/{c}/clone", None),
        ("POST", f"/api/v1/campaigns/{c}/pause", None),
        ("POST", f"/api/v1/campaigns/{c}/resume", None),
        ("POST", f"/api/v1/campaigns/{c}/cancel", None),
        ("GET", f"/api/v1/campaigns/{c}/variables", None),
        ("GET", f"/api/v1/campaigns/{c}/targets", None),
        ("GET", f"/api/v1/campaigns/{c}/patient/targets", None),
        ("POST", f"/api/v1/campaigns/{c}/targets", {"targets": []}),
        ("DELETE", f"/api/v1/campaigns/{c}/targets", {"target_ids": [t]}),
        ("POST", f"/api/v1/campaigns/{c}/calls", {"target_ids": [t]}),
        ("POST", f"/api/v1/campaigns/{c}/calls", {"count": 1}),
        ("GET", f"/api/v1/targets?campaign_id={c}", None),
        ("GET", f"/api/v1/targets/{t}", None),
        ("PATCH", f"/api/v1/targets/{t}", {"input_data": {"x": 1}}),
        ("POST", f"/api/v1/targets/{t}/cancel", None),
        ("GET", f"/api/v1/call-logs/{foreign['call_log']}", None),
        ("GET", f"/api/v1/live-calls?call_log_id={foreign['call_log']}", None),
        ("GET", f"/api/v1/live-calls?user_phone_number={foreign['phone']}", None),
        ("GET", "/api/v1/live-calls?key=claim_number&value=F-0", None),
        ("DELETE", f"/api/v1/api-keys/{foreign['api_key']}", None),
    ]
    for method, path, body in calls:
        response = tenant.client.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)


def test_foreign_objects_are_untouched_after_attempts(tenant, other_tenant, foreign):
    test_every_route_with_an_id_hides_other_organizations(tenant, foreign)
    campaign = other_tenant.client.get(f"/api/v1/campaigns/{foreign['campaign']}")
    assert campaign.json()["status"] == "active"
    assert campaign.json()["target_counts"] == {"Finished": 1, "Pending": 2}
    for target_id in foreign["targets"][1:]:
        target = other_tenant.client.get(f"/api/v1/targets/{target_id}").json()
        assert target["input_data"] == {
            "claim_number": f"F-{target_id == foreign['targets'][2] and 2 or 1}"
        }
    keys = other_tenant.client.get("/api/v1/api-keys").json()["api_keys"]
    assert foreign["api_key"] in [k["id"] for k in keys]


def test_own_campaign_cannot_reach_foreign_targets(tenant, foreign):
    cid = tenant.create_campaign()["id"]
    t = foreign["targets"][2]
    response = tenant.client.request(
        "DELETE", f"/api/v1/campaigns/{cid}/targets", json={"target_ids": [t]}
    )
    assert response.json()["not_found"] == [t] and response.json()["deleted"] == 0
    response = tenant.client.post(
        f"/api/v1/campaigns/{cid}/calls", json={"target_ids": [t]}
    )
    assert response.json()["launched"] == 0


def test_lists_never_show_other_organizations(tenant, foreign):
    own = tenant.create_campaign()["id"]
    own_ids = add_targets(tenant.client, own, [{"phone_number": phone(1)}])[
        "target_ids"
    ]
    campaigns = tenant.client.get(
        "/api/v1/campaigns", params={"include_archived": "true", "limit": 100}
    ).json()["campaigns"]
    assert [c["id"] for c in campaigns] == [own]
    targets = tenant.client.get("/api/v1/targets", params={"limit": 100}).json()
    assert [x["id"] for x in targets["targets"]] == own_ids
    logs = tenant.client.get("/api/v1/call-logs").json()
    assert logs["call_logs"] == [] and logs["page_count"] == 0
    logs = tenant.client.get(
        "/api/v1/call-logs", params={"campaign_id": foreign["campaign"]}
    ).json()
    assert logs["call_logs"] == []
    keys = tenant.client.get("/api/v1/api-keys").json()["api_keys"]
    assert {k["organization_id"] for k in keys} == {tenant.org_id}
