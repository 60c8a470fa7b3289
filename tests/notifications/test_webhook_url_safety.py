"""Webhook URLs that point into private networks are refused, when saved and
when sent."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from callfleet.api.app import create_app
from callfleet.config import Config
from callfleet.notifications import delivery, url_safety
from testsupport import ServerThread, new_api_key

FORBIDDEN = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.0.10",
    "169.254.169.254",
    "100.64.0.1",
    "100.100.100.200",
    "0.0.0.0",
    "224.0.0.251",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",
    "2002:c0a8:1::1",
]
PUBLIC = ["93.184.216.34", "8.8.4.4", "2606:4700:4700::1111", "::ffff:1.1.1.1"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_internal_addresses_are_forbidden(address: str) -> None:
    assert url_safety.is_forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not url_safety.is_forbidden(ipaddress.ip_address(address))


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"no such host {host}")
        return answers[host]

    monkeypatch.setattr(url_safety, "resolve_host", resolve)


async def test_save_refuses_names_resolving_inside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(
        monkeypatch,
        {
            "inside.example": ["93.184.216.34", "10.1.2.3"],
            "outside.example": ["93.184.216.34"],
        },
    )
    with pytest.raises(ValueError, match="inside.example"):
        await url_safety.check_on_save(
            "https://inside.example/hook", allow_private=False
        )
    await url_safety.check_on_save("https://outside.example/hook", allow_private=False)
    await url_safety.check_on_save("https://inside.example/hook", allow_private=True)
    # Not resolvable yet: accepted, the send-time check still applies.
    await url_safety.check_on_save("https://later.example/hook", allow_private=False)


@pytest.mark.parametrize(
    "url", ["ftp://93.184.216.34/x", "file:///etc/passwd", "http:///nohost"]
)
async def test_only_http_urls(url: str) -> None:
    with pytest.raises(url_safety.UnsafeURL):
        await url_safety.check_on_save(url, allow_private=True)


async def test_send_time_check_catches_a_changed_dns_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"rebind.example": ["127.0.0.1"]})
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        outcome = await delivery.send(
            client,
            url="http://rebind.example/hook",
            event_id="msg_1",
            body=b"{}",
            secrets=["whsec_" + "A" * 32],
            allow_private=False,
        )
    assert not outcome.succeeded
    assert outcome.error and outcome.error.startswith("refused")
    assert requests == []


async def test_send_connects_to_the_checked_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"hooks.example": ["93.184.216.34"]})
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        outcome = await delivery.send(
            client,
            url="https://hooks.example:8443/in?x=1",
            event_id="msg_1",
            body=b"{}",
            secrets=["whsec_" + "A" * 32],
            allow_private=False,
        )
    assert outcome.succeeded
    (request,) = requests
    assert str(request.url) == "https://93.184.216.34:8443/in?x=1"
    assert request.headers["host"] == "hooks.example:8443"
    assert request.extensions["sni_hostname"] == "hooks.example"


@pytest.fixture
def strict_api(database_url: str) -> Iterator[httpx.Client]:
    """An API with the default configuration: private addresses refused."""
    _, key = new_api_key(database_url)
    app = create_app(Config(database_url=database_url))
    with (
        ServerThread(app) as server,
        httpx.Client(base_url=server.url, headers={"X-Api-Key": key}) as client,
    ):
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "https://10.0.0.8/hook",
        "http://[::1]:9000/hook",
    ],
)
def test_api_refuses_private_webhook_urls(strict_api: httpx.Client, url: str) -> None:
    response = strict_api.post(
        "/api/v1/campaigns",
        json={"name": "SSRF", "notifications": {"webhooks": [{"url": url}]}},
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert url in error["msg"]
    assert error["loc"][:3] == ["body", "notifications", "webhooks"]


def test_api_refuses_private_url_on_update(strict_api: httpx.Client) -> None:
    created = strict_api.post("/api/v1/campaigns", json={"name": "SSRF"})
    assert created.status_code == 201
    response = strict_api.patch(
        f"/api/v1/campaigns/{created.json()['id']}",
        json={"notifications": {"webhooks": [{"url": "http://192.168.1.1/x"}]}},
    )
    assert response.status_code == 422
    assert "192.168.1.1" in response.text


def test_api_accepts_public_literal(strict_api: httpx.Client) -> None:
    response = strict_api.post(
        "/api/v1/campaigns",
        json={
            "name": "public",
            "notifications": {"webhooks": [{"url": "https://93.184.216.34/hook"}]},
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["webhook_endpoints"][0]["secret"].startswith("whsec_")
