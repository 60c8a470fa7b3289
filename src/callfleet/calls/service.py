"""Call log views: Prosper's export shape and the flat live-call snapshot."""

from __future__ import annotations

from typing import Any

from callfleet.calls.schemas import (
    CallLogExportInformation,
    CallLogListExportInformation,
)
from callfleet.db.models import CallLog


def _common(log: CallLog) -> dict[str, Any]:
    return {
        "id": str(log.id),
        "to": log.to_number,
        "from_": log.from_number,
        "created_at": log.created_at,
        "call_length": f"{log.duration_s:.1f}" if log.duration_s is not None else "0",
        "call_ended_reason": log.call_ended_reason or "",
        "call_categorization": log.call_categorization,
        "agent_data": log.agent_data or {},
        "campaign_target_id": log.target_id,
        "post_call_data": log.post_call_data,
        "qa": log.qa,
        "transcripts": [
            {key: str(value) for key, value in turn.items()}
            for turn in log.transcripts or []
        ],
        "campaign_id": log.campaign_id,
        "attempt": log.attempt,
        "state": log.state,
        "disposition": log.disposition,
        "provider": log.provider,
        "provider_call_id": log.provider_call_id,
        "provider_code": log.provider_code,
        "provider_reason": log.provider_reason,
        "answered_at": log.answered_at,
        "ended_at": log.ended_at,
        "duration_s": log.duration_s,
        "summary": log.summary,
        "provider_data": log.provider_data or {},
    }


def list_item(log: CallLog) -> CallLogListExportInformation:
    return CallLogListExportInformation(**_common(log))


def detail(log: CallLog, include_recordings: bool) -> CallLogExportInformation:
    return CallLogExportInformation(
        **_common(log),
        recording_urls=list(log.recording_urls or []) if include_recordings else [],
    )


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}, "c": [2]} -> {"a.b": 1, "c.0": 2}"""
    flat: dict[str, Any] = {}
    if isinstance(value, dict):
        if not value and prefix:
            flat[prefix] = {}
        for key, inner in value.items():
            flat.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list):
        if not value and prefix:
            flat[prefix] = []
        for index, inner in enumerate(value):
            flat.update(flatten(inner, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix] = value
    return flat


def live_snapshot(log: CallLog) -> dict[str, Any]:
    live = log.ended_at is None
    snapshot = {
        "source": "live_calls" if live else "call_logs",
        "call_log_id": log.id,
        "campaign_id": log.campaign_id,
        "target_id": log.target_id,
        "user_phone_number": log.to_number,
        "from_number": log.from_number,
        "attempt": log.attempt,
        "state": log.state,
        "disposition": log.disposition,
        "started_at": log.created_at.isoformat(),
        "answered_at": log.answered_at.isoformat() if log.answered_at else None,
        "ended_at": log.ended_at.isoformat() if log.ended_at else None,
        "call_ended_reason": log.call_ended_reason,
        "variables": log.live_data or {},
        "post_call_data": log.post_call_data or {},
        "transcripts": log.transcripts or [],
    }
    return flatten(snapshot)
