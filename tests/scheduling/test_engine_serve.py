"""``callfleet serve``: the API and one worker in one process call the targets
posted through the API, end to end on the simulator."""

from __future__ import annotations

import time

import httpx

from callfleet.api.app import create_app
from callfleet.config import Config
from callfleet.db.engine import migrate
from callfleet.scheduling.worker import worker_service
from testsupport import ServerThread, fresh_database_url, new_api_key


def test_serve_calls_launched_targets(tmp_path):
    url, drop = fresh_database_url(tmp_path)
    try:
        migrate(url)
        _, key = new_api_key(url)
        config = Config(database_url=url, worker_poll_interval_s=0.05)
        app = create_app(config, services=[worker_service])
        with (
            ServerThread(app) as server,
            httpx.Client(
                base_url=server.url, headers={"X-Api-Key": key}, timeout=30
            ) as client,
        ):
            always = {"start": "00:00", "end": "24:00"}
            days = [
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
            ]
            campaign = client.post(
                "/api/v1/campaigns",
                json={
                    "name": "serve",
                    "calling_hours": {"tz": "UTC", **{d: [always] for d in days}},
                    "telephony": {
                        "simulation": {
                            "time_scale": 0,
                            "scenarios": {"cooperative": 1},
                        }
                    },
                },
            ).json()
            added = client.post(
                f"/api/v1/campaigns/{campaign['id']}/targets",
                json={
                    "targets": [{"phone_number": f"+1212555{i:04d}"} for i in range(3)],
                    "launch": True,
                },
            ).json()

            deadline = time.monotonic() + 30
            while True:
                statuses = [
                    client.get(f"/api/v1/targets/{t}").json()["status"]
                    for t in added["target_ids"]
                ]
                if all(s in ("Finished", "To review", "Failed") for s in statuses):
                    break
                assert time.monotonic() < deadline, statuses
                time.sleep(0.1)
            assert "Failed" not in statuses
    finally:
        drop()
