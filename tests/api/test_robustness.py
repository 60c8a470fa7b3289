"""No input makes the server answer 500; errors are ``{"detail": ...}`` and
422s carry loc/msg/type."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from api_support import add_targets, phone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HUGE = 10**30


@pytest.fixture
def ids(tenant):
    cid = tenant.create_campaign()["id"]
    target_id = add_targets(tenant.client, cid, [{"phone_number": phone(1)}])[
        "target_ids"
    ][0]
    return cid, target_id


def _routes(cid: str, tid: str) -> list[tuple[str, str]]:
    return [
        ("POST", "/api/v1/campaigns"),
        ("PATCH", f"/api/v1/campaigns/{cid}"),
        ("POST", f"/api/v1/campaigns/{cid}/clone"),
        ("POST", f"/api/v1/campaigns/{cid}/targets"),
        ("DELETE", f"/api/v1/campaigns/{cid}/targets"),
        ("POST", f"/api/v1/campaigns/{cid}/calls"),
        ("PATCH", f"/api/v1/targets/{tid}"),
        ("POST", "/api/v1/api-keys"),
    ]


def _assert_error_shape(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"detail"}, body
        if response.status_code == 422 and isinstance(body["detail"], list):
            for error in body["detail"]:
                assert {"loc", "msg", "type"} <= set(error), error


def test_malformed_and_non_object_bodies(tenant, ids):
    cid, tid = ids
    bodies = [
        b"{",
        b'{"targets": [}',
        b"\xff\xfe\x00",
        b"[]",
        b'"targets"',
        b"1e999",
        b"null",
        b"true",
        b"",
        b'{"a": NaN}',
        b"[" * 5000 + b"]" * 5000,
    ]
    for method, path in _routes(cid, tid):
        for body in bodies:
            response = tenant.client.request(
                method,
                path,
                content=body,
                headers={"Content-Type": "application/json"},
            )
            _assert_error_shape(response)
            if path.endswith("/clone") and body in (b"null", b""):
                # The clone body is optional: nothing means "no options".
                assert response.status_code == 201
                continue
            assert response.status_code in (400, 422), (method, path, body[:20])


def test_wrong_types_and_unknown_enums(tenant, ids):
    cid, tid = ids
    cases = [
        ("POST", f"/api/v1/campaigns/{cid}/targets", {"targets": {"a": 1}}),
        ("POST", f"/api/v1/campaigns/{cid}/targets", {"targets": [1, "x", None]}),
        (
            "POST",
            f"/api/v1/campaigns/{cid}/targets",
            {"targets": [], "launch": "maybe"},
        ),
        (
            "POST",
            f"/api/v1/campaigns/{cid}/targets",
            {"targets": [{"phone_number": {"value": 5}}]},
        ),
        (
            "POST",
            f"/api/v1/campaigns/{cid}/targets",
            {"targets": [{"phone_number": phone(1), "input_data": "x"}]},
        ),
        ("POST", f"/api/v1/campaigns/{cid}/calls", {"target_ids": "abc"}),
        ("POST", f"/api/v1/campaigns/{cid}/calls", {"count": HUGE}),
        ("POST", f"/api/v1/campaigns/{cid}/calls", {"count": -HUGE}),
        ("POST", f"/api/v1/campaigns/{cid}/calls", {"count": 1.5}),
        ("DELETE", f"/api/v1/campaigns/{cid}/targets", {"target_ids": [HUGE]}),
        ("PATCH", f"/api/v1/targets/{tid}", {"input_data": [1]}),
        ("PATCH", f"/api/v1/campaigns/{cid}", {"agent": {"brain": "genius"}}),
        ("PATCH", f"/api/v1/campaigns/{cid}", {"retry_policy": {"max_attempts": HUGE}}),
        ("PATCH", f"/api/v1/campaigns/{cid}", {"calling_hours": {"monday": "all"}}),
        ("POST", "/api/v1/campaigns", {"name": "x", "direction": "inbound"}),
        ("POST", "/api/v1/campaigns", {"name": ["x"]}),
        ("POST", "/api/v1/api-keys", {"name": HUGE}),
    ]
    for method, path, body in cases:
        response = tenant.client.request(method, path, json=body)
        _assert_error_shape(response)
        assert response.status_code == 422, (method, path, body, response.text)


def test_huge_numbers_and_bad_values_in_query_and_path(tenant, ids):
    cid, _ = ids
    requests = [
        f"/api/v1/campaigns/{cid}/targets?page={HUGE}",
        f"/api/v1/campaigns/{cid}/targets?limit={HUGE}",
        f"/api/v1/campaigns/{cid}/targets?status=Done",
        f"/api/v1/campaigns/{cid}/targets?from_date=yesterday",
        f"/api/v1/campaigns/{cid}/targets?to_last_call_date=2024-13-45",
        f"/api/v1/targets?page={HUGE}",
        f"/api/v1/call-logs?page={HUGE}",
        f"/api/v1/call-logs?limit={HUGE}",
        f"/api/v1/call-logs/{HUGE}",
        "/api/v1/call-logs/-1",
        "/api/v1/call-logs/1.5",
        f"/api/v1/live-calls?call_log_id={HUGE}",
        "/api/v1/live-calls?user_phone_number=not-a-phone",
        f"/api/v1/campaigns?page={HUGE}",
        "/api/v1/campaigns?status=sleeping",
    ]
    for path in requests:
        response = tenant.client.get(path)
        _assert_error_shape(response)
        assert response.status_code == 422, (path, response.text)


ODD_IDS = [
    "%00",
    "a%00b",
    "x" * 5000,
    "ü-ñ-漢字-🙂",
    "%F0%9F%99%82",
    "..%2F..%2Fetc",
    "'; DROP TABLE targets; --",
    str(uuid.uuid4()).upper(),
    "%20",
    "%FF%FE",
]


@pytest.mark.parametrize("odd", ODD_IDS)
def test_odd_ids_in_paths_answer_404_or_422(tenant, ids, odd):
    cid, tid = ids
    routes = [
        ("GET", f"/api/v1/campaigns/{odd}", None),
        ("GET", f"/api/v1/campaigns/{odd}/targets", None),
        ("GET", f"/api/v1/campaigns/{odd}/variables", None),
        ("POST", f"/api/v1/campaigns/{odd}/targets", {"targets": []}),
        ("POST", f"/api/v1/campaigns/{odd}/calls", {"count": 1}),
        ("POST", f"/api/v1/campaigns/{odd}/pause", None),
        ("DELETE", f"/api/v1/campaigns/{cid}/targets", {"target_ids": [odd]}),
        ("POST", f"/api/v1/campaigns/{cid}/calls", {"target_ids": [odd]}),
        ("GET", f"/api/v1/targets/{odd}", None),
        ("PATCH", f"/api/v1/targets/{odd}", {"input_data": {}}),
        ("POST", f"/api/v1/targets/{odd}/cancel", None),
        ("GET", f"/api/v1/call-logs/{odd}", None),
        ("DELETE", f"/api/v1/api-keys/{odd}", None),
        ("GET", f"/api/v1/targets?campaign_id={odd}", None),
        ("GET", f"/api/v1/live-calls?key={odd}&value={odd}", None),
        ("GET", f"/api/v1/live-calls?user_phone_number={odd}", None),
    ]
    for method, path, body in routes:
        response = tenant.client.request(method, path, json=body)
        _assert_error_shape(response)
        if "{odd}" in path or odd not in path:
            continue
        assert response.status_code in (200, 404, 422), (method, path)
    response = tenant.client.get(f"/api/v1/targets/{tid}")
    assert response.status_code == 200


def test_nul_characters_are_refused_where_they_are(tenant, ids):
    cid, tid = ids
    response = tenant.client.post(
        f"/api/v1/campaigns/{cid}/targets",
        json={
            "targets": [
                {"phone_number": phone(2), "external_id": "a\u0000b"},
                {"phone_number": phone(3), "input_data": {"k": ["x", "\u0000"]}},
                {"phone_number": phone(4), "input_data": {"\\u0000": "kept"}},
            ]
        },
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["body", "targets", 0, "external_id"],
        ["body", "targets", 1, "input_data", "k", 1],
    ]
    response = tenant.client.patch(
        f"/api/v1/targets/{tid}", json={"input_data": {"note": "\u0000"}}
    )
    _assert_error_shape(response)
    response = tenant.client.get("/api/v1/targets", params={"campaign_id": "\x00"})
    assert response.status_code == 422


def test_odd_strings_in_target_content_are_kept(tenant, ids):
    cid, _ = ids
    response = tenant.client.post(
        f"/api/v1/campaigns/{cid}/targets",
        json={
            "targets": [
                {
                    "phone_number": phone(2),
                    "external_id": "ü🙂' OR 1=1; --",
                    "input_data": {"漢字": "🙂", "n": HUGE, "deep": [[[[{}]]]]},
                }
            ]
        },
    )
    assert response.status_code == 200, response.text
    target_id = response.json()["target_ids"][0]
    stored = tenant.client.get(f"/api/v1/targets/{target_id}").json()
    assert stored["external_id"] == "ü🙂' OR 1=1; --"
    assert stored["input_data"] == {"漢字": "🙂", "n": HUGE, "deep": [[[[{}]]]]}


def test_oversize_bodies_are_413_with_or_without_length(make_server, tenant):
    small = make_server(max_body_bytes=2_000)
    body = json.dumps(
        {"targets": [{"phone_number": phone(i)} for i in range(200)]}
    ).encode()
    headers = {"X-Api-Key": tenant.key, "Content-Type": "application/json"}
    cid = tenant.create_campaign()["id"]
    url = f"{small.url}/api/v1/campaigns/{cid}/targets"

    response = httpx.post(url, content=body, headers=headers)
    assert response.status_code == 413
    assert "larger than 2000 bytes" in response.json()["detail"]

    def chunks():
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    response = httpx.post(url, content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json()["detail"]

    total = tenant.client.get(f"/api/v1/campaigns/{cid}").json()["target_counts"]
    assert total == {}

    fits = json.dumps({"targets": [{"phone_number": phone(1)}]}).encode()
    response = httpx.post(url, content=fits, headers=headers)
    assert response.status_code == 200


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
KEYS = st.sampled_from(
    [
        "targets",
        "launch",
        "allow_duplicates",
        "target_ids",
        "count",
        "prioritize_oldest",
        "input_data",
        "only_if_not_started",
        "name",
        "agent",
        "calling_hours",
        "retry_policy",
        "phone_number",
        "id",
    ]
)
BODIES = JSON | st.dictionaries(KEYS, JSON, max_size=4)
TARGET = st.fixed_dictionaries(
    {"phone_number": st.one_of(st.text(max_size=20), JSON)},
    optional={"id": JSON, "input_data": JSON, "external_id": JSON, "patient": JSON},
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=BODIES, target=TARGET, route=st.integers(min_value=0, max_value=7))
def test_random_json_never_gives_500(tenant, ids, body, target, route):
    cid, tid = ids
    method, path = _routes(cid, tid)[route]
    response = tenant.client.request(method, path, json=body)
    _assert_error_shape(response)
    response = tenant.client.post(
        f"/api/v1/campaigns/{cid}/targets", json={"targets": [target]}
    )
    _assert_error_shape(response)


def test_unpaired_surrogates_are_refused_and_nothing_is_stored(tenant):
    raw = b'{"name": "ok", "description": "bad \\ud800 text"}'
    response = tenant.client.post(
        "/api/v1/campaigns", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "description"]

    campaign_id = tenant.create_campaign()["id"]
    raw = (
        b'{"targets": [{"phone_number": "+12015550123",'
        b' "input_data": {"a": "\\udc00"}}]}'
    )
    response = tenant.client.post(
        f"/api/v1/campaigns/{campaign_id}/targets",
        content=raw,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == [
        "body",
        "targets",
        0,
        "input_data",
        "a",
    ]
    listed = tenant.client.get(f"/api/v1/campaigns/{campaign_id}/targets").json()
    assert listed["total"] == 0

    paired = b'{"name": "emoji \\ud83d\\ude00 fine"}'
    response = tenant.client.post(
        "/api/v1/campaigns",
        content=paired,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 201
    assert response.json()["name"] == "emoji \U0001f600 fine"
