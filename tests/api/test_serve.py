"""``callfleet serve`` end to end: a real process on a free port with its own
SQLite file, used through HTTP, stopped with SIGTERM."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from api_support import phone

CLI = Path(sys.executable).parent / "callfleet"


@pytest.fixture(autouse=True)
def _needs_worker() -> None:
    try:
        importlib.import_module("callfleet.scheduling.worker")
    except ImportError as exc:
        pytest.skip(f"serve runs the worker, which does not import yet: {exc}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(tmp_path: Path, **env: str) -> Iterator[tuple[str, list[str]]]:
    port = _free_port()
    process = subprocess.Popen(
        [
            str(CLI),
            "serve",
            "--database-url",
            f"sqlite:///{tmp_path / 'serve.db'}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "listening on" in line:
                break
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "\n".join(lines)
            try:
                if httpx.get(f"{url}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not answer"
            time.sleep(0.05)
        yield url, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert process.stdout is not None
    rest = process.stdout.read()
    # uvicorn shuts down gracefully, then re-raises the signal it caught so
    # that the exit status still says "terminated by SIGTERM".
    assert process.returncode in (0, -signal.SIGTERM), rest
    assert "Traceback" not in rest and "error" not in rest.lower(), rest


def test_serve_prints_a_key_and_serves_the_api(tmp_path):
    with serving(tmp_path) as (url, lines):
        keys = [line.strip() for line in lines if line.strip().startswith("cf_")]
        assert len(keys) == 1, lines
        with httpx.Client(base_url=url, headers={"X-Api-Key": keys[0]}) as client:
            response = client.post("/api/v1/campaigns", json={"name": "Serve test"})
            assert response.status_code == 201
            cid = response.json()["id"]
            response = client.post(
                f"/api/v1/campaigns/{cid}/targets",
                json={"targets": [{"phone_number": phone(i)} for i in range(3)]},
            )
            assert response.status_code == 200
            listed = client.get(f"/api/v1/campaigns/{cid}/targets").json()
            assert len(listed["targets"]) == 3
            assert {t["phone_number"] for t in listed["targets"]} == {
                phone(i) for i in range(3)
            }

    # A second start keeps the key and prints no new one.
    with serving(tmp_path) as (url, lines):
        assert not [line for line in lines if line.strip().startswith("cf_")]
        response = httpx.get(f"{url}/api/v1/campaigns", headers={"X-Api-Key": keys[0]})
        assert [c["name"] for c in response.json()["campaigns"]] == ["Serve test"]


def test_configured_api_key_is_used_on_first_start(tmp_path):
    key = "cf_configured_" + "k" * 20
    with serving(tmp_path, CALLFLEET_API_KEY=key) as (url, lines):
        assert not [line for line in lines if line.strip().startswith("cf_")]
        ok = httpx.get(f"{url}/api/v1/campaigns", headers={"X-Api-Key": key})
        assert ok.status_code == 200
        bad = httpx.get(f"{url}/api/v1/campaigns", headers={"X-Api-Key": key + "x"})
        assert bad.status_code == 401
