"""``callfleet run`` on a user's own files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALWAYS = [{"start": "00:00", "end": "24:00"}]
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CAMPAIGN = {
    "name": "Eligibility check",
    "agent": {"first_message": "Hello, this is {{ agent_name }} about {{ member }}."},
    "calling_hours": {**{day: ALWAYS for day in DAYS}, "tz": "America/Chicago"},
    "retry_policy": {"max_attempts": 2, "rules": {"no_answer": {"delay_minutes": 0}}},
    "post_call": {
        "fields": [
            {
                "name": "claim_status",
                "type": "enum",
                "values": ["paid", "denied", "pending"],
                "question": "What is the status of the claim?",
                "required": True,
            },
            {"name": "paid_amount", "type": "money", "question": "How much was paid?"},
        ]
    },
    "telephony": {"simulation": {"time_scale": 0, "scenarios": {"cooperative": 1}}},
}


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "callfleet",
            "run",
            *args,
            "--database-url",
            f"sqlite+aiosqlite:///{tmp / 'run.db'}",
            "--timeout",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )


@pytest.fixture
def campaign_file(tmp_path: Path) -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(CAMPAIGN))
    return path


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_bad_rows_are_reported_by_line_and_nothing_runs(tmp_path, campaign_file):
    targets = write_csv(
        tmp_path / "targets.csv",
        [
            ["phone_number", "external_id", "member", "timezone"],
            ["+12015550123", "A-1", "Ann", ""],
            ["not a number", "A-2", "Bob", ""],
            ["(312) 555-0142", "A-3", "Cy", "Mars/Olympus"],
        ],
    )
    result = run(tmp_path, "--campaign", str(campaign_file), "--targets", str(targets))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "line 3" in result.stdout and "not a number" in result.stdout
    assert "line 4" in result.stdout and "Mars/Olympus" in result.stdout
    assert "line 2" not in result.stdout
    assert "nothing was launched" in result.stdout
    assert not (tmp_path / "run.db").exists()


def test_skip_invalid_runs_the_good_rows_to_the_end(tmp_path, campaign_file):
    targets = write_csv(
        tmp_path / "targets.csv",
        [
            ["phone_number", "id", "external_id", "member"],
            ["+12015550123", "", "A-1", "Ann"],
            ["12345", "", "A-2", "Bob"],
            ["(312) 555-0142", "9b0c7f6e-5d1a-4c3b-8a2e-1f0d9c8b7a61", "A-3", "Cy"],
        ],
    )
    out = tmp_path / "results"
    result = run(
        tmp_path,
        "--campaign",
        str(campaign_file),
        "--targets",
        str(targets),
        "--skip-invalid",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "line 3" in result.stdout
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert sorted(r["external_id"] for r in rows) == ["A-1", "A-3"]
    assert all(r["status"] in ("Finished", "To review", "Failed") for r in rows)
    assert any(r["id"] == "9b0c7f6e-5d1a-4c3b-8a2e-1f0d9c8b7a61" for r in rows)
    data = json.loads((out / "results.json").read_text())
    by_external = {t["external_id"]: t for t in data["targets"]}
    assert by_external["A-1"]["input_data"] == {"member": "Ann"}
    assert by_external["A-1"]["phone_number"] == "+12015550123"
    assert by_external["A-1"]["output_data"].get("claim_status") in (
        "paid",
        "denied",
        "pending",
    )


def test_json_targets_in_the_api_shape(tmp_path, campaign_file):
    targets = tmp_path / "targets.json"
    targets.write_text(
        json.dumps(
            {
                "targets": [
                    {
                        "phone_number": {"value": "+14155550123"},
                        "input_data": {"member": "Di"},
                    }
                ]
            }
        )
    )
    out = tmp_path / "results"
    result = run(
        tmp_path,
        "--campaign",
        str(campaign_file),
        "--targets",
        str(targets),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((out / "results.json").read_text())
    assert len(data["targets"]) == 1
    assert data["targets"][0]["call_logs"][0]["transcripts"]


def test_invalid_campaign_file_names_the_setting(tmp_path):
    bad = dict(CAMPAIGN, concurrency={"max_concurrent_calls": 0})
    path = tmp_path / "campaign.json"
    path.write_text(json.dumps(bad))
    targets = write_csv(tmp_path / "t.csv", [["phone_number"], ["+12015550123"]])
    result = run(tmp_path, "--campaign", str(path), "--targets", str(targets))
    assert result.returncode == 2
    assert "concurrency.max_concurrent_calls" in result.stdout


def test_one_id_on_two_rows_with_other_content_is_a_bad_row(tmp_path, campaign_file):
    same = "5f0c4a52-8a0e-4b8e-9d53-0d7e3c6a9b11"
    targets = write_csv(
        tmp_path / "targets.csv",
        [
            ["phone_number", "id"],
            ["+12015550123", same],
            ["+13125550142", same],
        ],
    )
    result = run(tmp_path, "--campaign", str(campaign_file), "--targets", str(targets))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "line 3" in result.stdout and "line 2" not in result.stdout
    assert "different content" in result.stdout
