"""Adding targets: phone normalization, client ids, idempotency, all-or-nothing
validation, request size, duplicates, launch and suppression."""

from __future__ import annotations

import uuid

from api_support import add_targets, phone, suppress


def _post(tenant, cid, targets, **extra):
    return tenant.client.post(
        f"/api/v1/campaigns/{cid}/targets", json={"targets": targets, **extra}
    )


def _total(tenant, cid) -> int:
    response = tenant.client.get(f"/api/v1/campaigns/{cid}")
    assert response.status_code == 200
    return sum(response.json()["target_counts"].values())


def _target(tenant, target_id):
    response = tenant.client.get(f"/api/v1/targets/{target_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_phone_as_string_or_object_normalized_to_e164(tenant):
    cid = tenant.create_campaign()["id"]
    hours = {"tz": "America/Chicago", "monday": [{"start": "09:00", "end": "17:00"}]}
    added = add_targets(
        tenant.client,
        cid,
        [
            {"phone_number": "(201) 555-0123"},
            {"phone_number": {"value": "201.555.0124", "operating_hours": hours}},
            {"phone_number": "+44 20 7946 0958"},
            {"phone_number": {"value": "+1 201 555 0125"}},
        ],
    )
    numbers = [_target(tenant, i)["phone_number"] for i in added["target_ids"]]
    assert numbers == ["+12015550123", "+12015550124", "+442079460958", "+12015550125"]
    with_hours = _target(tenant, added["target_ids"][1])
    assert with_hours["timezones"] == ["America/New_York"]


def test_campaign_phone_region_reads_national_numbers(tenant):
    cid = tenant.create_campaign(phone_region="GB")["id"]
    added = add_targets(tenant.client, cid, [{"phone_number": "020 7946 0958"}])
    assert _target(tenant, added["target_ids"][0])["phone_number"] == "+442079460958"

    us = tenant.create_campaign()["id"]
    response = _post(tenant, us, [{"phone_number": "020 7946 0958"}])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == [
        "body",
        "targets",
        0,
        "phone_number",
    ]


def test_client_id_must_be_uuid4(tenant):
    cid = tenant.create_campaign()["id"]
    response = _post(
        tenant,
        cid,
        [
            {"id": str(uuid.uuid4()), "phone_number": phone(1)},
            {"id": str(uuid.uuid1()), "phone_number": phone(2)},
            {"id": "not-a-uuid", "phone_number": phone(3)},
        ],
    )
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [
        ["body", "targets", 1, "id"],
        ["body", "targets", 2, "id"],
    ]
    assert all("version 4 UUID" in e["msg"] for e in errors)
    assert _total(tenant, cid) == 0


def test_same_id_and_content_is_already_present(tenant):
    cid = tenant.create_campaign()["id"]
    own = str(uuid.uuid4())
    target = {"id": own, "phone_number": phone(1), "input_data": {"a": 1}}
    first = add_targets(tenant.client, cid, [target])
    assert first["created"] == 1

    again = add_targets(tenant.client, cid, [target, {"phone_number": phone(2)}])
    assert again["already_present"] == 1 and again["created"] == 1
    assert again["results"][0] == {
        "index": 0,
        "id": own,
        "result": "already_present",
        "status": "Pending",
        "reason": None,
    }
    assert _total(tenant, cid) == 2

    # Written differently but the same number: still the same content.
    same = {**target, "phone_number": "(201) 555-0001"}
    assert add_targets(tenant.client, cid, [same])["already_present"] == 1


def test_same_id_with_other_content_is_a_conflict(tenant):
    cid = tenant.create_campaign()["id"]
    own = str(uuid.uuid4())
    add_targets(tenant.client, cid, [{"id": own, "phone_number": phone(1)}])
    response = _post(
        tenant,
        cid,
        [
            {"phone_number": phone(5)},
            {"id": own, "phone_number": phone(1), "input_data": {"a": 2}},
        ],
    )
    assert response.status_code == 409
    assert own in response.json()["detail"]
    assert _total(tenant, cid) == 1

    # The same id in another campaign is another target: also refused.
    other = tenant.create_campaign()["id"]
    response = _post(tenant, other, [{"id": own, "phone_number": phone(1)}])
    assert response.status_code == 409


def test_one_bad_target_refuses_all_and_lists_every_error(tenant):
    cid = tenant.create_campaign()["id"]
    targets = [{"phone_number": phone(i)} for i in range(10)]
    targets[2] = {"phone_number": "12"}
    targets[4] = {"input_data": {}}
    targets[6] = {"phone_number": phone(6), "surprise": True}
    targets[7] = {"phone_number": phone(7), "input_data": {"timezone": "Mars/Base"}}
    targets[9] = {"phone_number": phone(9), "input_data": []}
    response = _post(tenant, cid, targets, launch=True)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert sorted({e["loc"][2] for e in errors}) == [2, 4, 6, 7, 9]
    for error in errors:
        assert error["loc"][:2] == ["body", "targets"]
        assert error["msg"] and error["type"]
    by_index = {e["loc"][2]: e for e in errors}
    assert by_index[4]["type"] == "missing"
    assert by_index[6]["type"] == "extra_forbidden"
    assert by_index[7]["loc"] == ["body", "targets", 7, "input_data", "timezone"]
    assert "Mars/Base" in by_index[7]["msg"]
    assert _total(tenant, cid) == 0


def test_ten_thousand_targets_accepted_one_more_refused(tenant):
    cid = tenant.create_campaign()["id"]
    targets = [{"phone_number": phone(i % 10_000)} for i in range(10_000)]
    response = _post(tenant, cid, targets)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["created"] == 10_000
    assert _total(tenant, cid) == 10_000

    response = _post(tenant, cid, [*targets, {"phone_number": phone(1)}])
    assert response.status_code == 413
    assert "at most 10000" in response.json()["detail"]
    assert _total(tenant, cid) == 10_000


def test_allow_duplicates_false_skips_known_external_ids(tenant):
    cid = tenant.create_campaign()["id"]
    add_targets(tenant.client, cid, [{"phone_number": phone(1), "external_id": "A"}])
    result = add_targets(
        tenant.client,
        cid,
        [
            {"phone_number": phone(2), "external_id": "A"},
            {"phone_number": phone(3), "external_id": "B"},
            {"phone_number": phone(4), "external_id": "B"},
            {"phone_number": phone(5)},
        ],
        allow_duplicates=False,
    )
    assert [r["result"] for r in result["results"]] == [
        "skipped",
        "created",
        "skipped",
        "created",
    ]
    assert "'A'" in result["results"][0]["reason"]
    assert result["skipped"] == 2 and result["created"] == 2
    assert _total(tenant, cid) == 3

    kept = add_targets(
        tenant.client, cid, [{"phone_number": phone(2), "external_id": "A"}]
    )
    assert kept["created"] == 1
    assert _total(tenant, cid) == 4


def test_launch_schedules_new_targets(tenant):
    cid = tenant.create_campaign()["id"]
    added = add_targets(
        tenant.client, cid, [{"phone_number": phone(i)} for i in range(3)], launch=True
    )
    assert added["launched"] == 3
    for target_id in added["target_ids"]:
        target = _target(tenant, target_id)
        assert target["status"] == "Scheduled"
        assert target["scheduled_time"] is not None


def test_invalid_timezone_is_refused(tenant):
    cid = tenant.create_campaign()["id"]
    for zone in ("Nowhere/Land", 5, "", "../../etc/passwd"):
        response = _post(
            tenant, cid, [{"phone_number": phone(1), "input_data": {"timezone": zone}}]
        )
        assert response.status_code == 422, zone
        assert response.json()["detail"][0]["loc"][-1] == "timezone"
    added = add_targets(
        tenant.client,
        cid,
        [{"phone_number": phone(1), "input_data": {"timezone": "America/Denver"}}],
    )
    assert _target(tenant, added["target_ids"][0])["timezones"] == ["America/Denver"]


def test_suppressed_number_is_stored_failed(tenant, database_url):
    cid = tenant.create_campaign()["id"]
    suppress(database_url, tenant.org_id, phone(7))
    added = add_targets(
        tenant.client,
        cid,
        [{"phone_number": "201-555-0007"}, {"phone_number": phone(8)}],
        launch=True,
    )
    assert added["launched"] == 1
    blocked = _target(tenant, added["target_ids"][0])
    assert blocked["status"] == "Failed"
    assert blocked["category"] == "BLACKLISTED_PHONE"
    assert _target(tenant, added["target_ids"][1])["status"] == "Scheduled"


def test_fallback_number_of_the_wrong_length_is_refused(tenant):
    cid = tenant.create_campaign()["id"]
    response = tenant.client.post(
        f"/api/v1/campaigns/{cid}/targets",
        json={
            "targets": [{"phone_number": phone(1), "fallback_phone_number": "12345"}]
        },
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "targets", 0, "fallback_phone_number"]
    assert "wrong length" in error["msg"]
