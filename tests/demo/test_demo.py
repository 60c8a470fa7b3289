"""The demo end to end, as a newcomer runs it (time scale 0), then its results
read back through the API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from callfleet.api.app import create_app
from callfleet.config import Config
from testsupport import ServerThread, fresh_database_url

FINAL = {"Finished", "To review", "Failed"}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("demo")
    database_url, drop = fresh_database_url(tmp)
    out = tmp / "out"
    env = {**os.environ, "COLUMNS": "120"}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "callfleet",
            "demo",
            "--time-scale",
            "0",
            "--out",
            str(out),
            "--database-url",
            database_url,
            "--timeout",
            "300",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    yield {"completed": completed, "out": out, "database_url": database_url}
    drop()


def test_demo_exits_zero_with_a_summary(demo_run: dict) -> None:
    completed = demo_run["completed"]
    assert completed.returncode == 0, (
        completed.stdout[-4000:] + completed.stderr[-4000:]
    )
    assert "Targets by status" in completed.stdout
    assert "Extraction accuracy" in completed.stdout
    assert "Webhooks:" in completed.stdout


def test_every_target_is_final_with_results(demo_run: dict) -> None:
    results = json.loads((demo_run["out"] / "results.json").read_text())
    targets = results["targets"]
    assert len(targets) >= 12
    assert {t["status"] for t in targets} <= FINAL
    with_calls = [t for t in targets if t["call_logs"]]
    assert len(with_calls) == len(targets)
    talked = [
        log
        for t in targets
        for log in t["call_logs"]
        if log["disposition"] in ("completed", "incomplete")
    ]
    assert talked, "no call reached a person"
    assert all(log["transcripts"] for log in talked)
    assert all(log["qa"] is not None for log in talked)
    assert any(t["output_data"] for t in targets)
    assert all(t["category"] for t in targets)
    summary = results["summary"]
    hooks = summary["webhooks"]
    assert hooks["received"] > 0
    assert hooks["verified"] == hooks["received"]
    assert hooks["campaign_finished"] == 1
    assert hooks["target_finished"] == summary["calls"]
    rows = (demo_run["out"] / "results.csv").read_text().splitlines()
    assert len(rows) == len(targets) + 1


def test_results_are_readable_through_the_api(demo_run: dict) -> None:
    completed = demo_run["completed"]
    key = re.search(r"API key: (\S+)", completed.stdout).group(1)
    results = json.loads((demo_run["out"] / "results.json").read_text())
    target = next(t for t in results["targets"] if t["output_data"])
    log_id = target["call_log_ids"][-1]
    config = Config(database_url=demo_run["database_url"])
    with ServerThread(create_app(config)) as server:
        client = httpx.Client(base_url=server.url, headers={"X-Api-Key": key})
        got = client.get(f"/api/v1/targets/{target['id']}")
        assert got.status_code == 200
        assert got.json()["output_data"] == target["output_data"]
        log = client.get(f"/api/v1/call-logs/{log_id}")
        assert log.status_code == 200
        body = log.json()
        assert body["transcripts"] and body["campaign_target_id"] == target["id"]
        assert body["call_categorization"]
