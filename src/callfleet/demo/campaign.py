"""The demo's campaign: an insurance claim-status follow-up, and its targets
built from recorded conversations plus a share of harder lines."""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path
from typing import Any

from callfleet import phones
from callfleet.telephony.simulator.multidogo import load_multidogo, multidogo_fields
from callfleet.telephony.simulator.scenario import Scenario

SHIPPED_CONVERSATIONS = "conversations.tsv"
DATA_CANDIDATES = (
    Path("../shared/data/multidogo/insurance-dev.tsv"),
    Path(__file__).resolve().parents[4] / "shared/data/multidogo/insurance-dev.tsv",
)
# Share of targets (relative to the recorded conversations) sent to each of the
# harder scenarios, so the demo shows retries, voicemail, menus and opt-outs.
EXTRA_SCENARIOS = {
    "voicemail": 0.08,
    "no_answer": 0.06,
    "busy": 0.05,
    "ivr": 0.08,
    "do_not_call": 0.04,
}
AREA_CODES = ("201", "212", "213", "305", "312", "415", "617", "702", "206", "404")


def find_conversations(explicit: str | None) -> tuple[Path, bool]:
    """The MultiDoGO file to use and whether it is the real data set."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"no conversation file at {path}")
        return path, True
    for candidate in DATA_CANDIDATES:
        if candidate.is_file():
            return candidate, True
    shipped = resources.files("callfleet.demo") / "data" / SHIPPED_CONVERSATIONS
    with resources.as_file(shipped) as path:
        return Path(path), False


def load_conversations(path: Path) -> list[Scenario]:
    return load_multidogo(path)


def campaign_settings(
    webhook_url: str, *, time_scale: float, seed: int
) -> dict[str, Any]:
    fields = [field.model_dump(mode="json") for field in multidogo_fields()]
    fields.append(
        {
            "name": "claim_status",
            "type": "enum",
            "values": ["paid", "denied", "pending"],
            "description": "Where the claim stands",
            "question": "What is the status of the claim?",
        }
    )
    always = [{"start": "00:00", "end": "24:00"}]
    days = (
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    )
    return {
        "name": "Claim status follow-up (demo)",
        "description": "Follow up with policy holders on their open requests and "
        "confirm their details.",
        "agent": {
            "name": "Alex",
            "first_message": "Hello, this is {{ agent_name }} from Northwind "
            "Insurance, following up on your recent request.",
            "instructions": "Confirm the caller's details and the status of their "
            "claim {{ claim_number | default('') }}.",
            "goal": "claim status, speak with a representative",
            "verification_keys": ["member_id", "date_of_birth"],
            "voicemail": {
                "action": "leave_message",
                "message": "Hello, this is Northwind Insurance about your recent "
                "request. Please call us back at 201 555 0100. Thank you.",
            },
            "max_duration_s": 600,
        },
        "calling_hours": {**{day: always for day in days}, "tz": "America/New_York"},
        "timezone_policy": "campaign",
        "retry_policy": {
            "max_attempts": 3,
            "rules": {
                "no_answer": {"delay_minutes": 0.1},
                "busy": {"delay_minutes": 0.05},
                "voicemail": {"delay_minutes": 0.1},
                "incomplete": {"delay_minutes": 0.1},
                "failed": {"delay_minutes": 0.05, "backoff": "exponential"},
                "interrupted": {"delay_minutes": 0.05},
                "capacity": {"delay_minutes": 0.02, "uses_attempt": False},
                "after_hours": {"delay_minutes": 0.1},
            },
        },
        "concurrency": {"max_concurrent_calls": 30, "calls_per_second": 40},
        "post_call": {"fields": fields, "summary": True},
        "qa": {"review_threshold": 60},
        "notifications": {
            "webhooks": [
                {
                    "url": webhook_url,
                    "events": ["campaign_target_finished", "campaign_finished"],
                    "description": "demo receiver",
                }
            ]
        },
        "telephony": {
            "provider": "simulator",
            "caller_ids": ["+12015550100"],
            "simulation": {
                "seed": seed,
                "time_scale": time_scale,
                "scenarios": {"cooperative": 1.0},
            },
        },
    }


def _phone_numbers(count: int, rng: random.Random) -> list[str]:
    numbers: list[str] = []
    seen: set[str] = set()
    candidates = [
        f"+1{area}555{line:04d}" for area in AREA_CODES for line in range(100, 200)
    ]
    rng.shuffle(candidates)
    for candidate in candidates:
        if len(numbers) == count:
            break
        try:
            number = phones.normalize(candidate)
        except phones.InvalidPhoneNumber:
            continue
        if number not in seen:
            seen.add(number)
            numbers.append(number)
    if len(numbers) < count:
        raise ValueError(f"could not make {count} distinct demo phone numbers")
    return numbers


def build_targets(conversations: list[Scenario], seed: int) -> list[dict[str, Any]]:
    """One target per recorded conversation, plus targets for the harder
    scenarios; each target names its scenario in ``input_data._scenario``."""
    rng = random.Random(seed)
    plan: list[tuple[str, str]] = [
        (scenario.name, scenario.name.split(":", 1)[-1]) for scenario in conversations
    ]
    for name, share in EXTRA_SCENARIOS.items():
        for index in range(max(1, round(len(conversations) * share))):
            plan.append((name, f"{name}-{index + 1}"))
    rng.shuffle(plan)
    numbers = _phone_numbers(len(plan), rng)
    targets = []
    for (scenario, external_id), number in zip(plan, numbers, strict=True):
        input_data: dict[str, Any] = {"_scenario": scenario}
        if not scenario.startswith("multidogo:"):
            input_data |= {
                "member_id": f"M{rng.randrange(10**7, 10**8)}",
                "claim_number": f"CLM-{rng.randrange(10**5, 10**6)}",
            }
        targets.append(
            {
                "phone_number": number,
                "external_id": external_id,
                "input_data": input_data,
            }
        )
    return targets
