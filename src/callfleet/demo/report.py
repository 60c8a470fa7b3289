"""Results of a finished campaign: fetched through the API, summarized,
written as results.json and results.csv."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from callfleet.analysis.extraction import normalize_value
from callfleet.campaigns.settings import CampaignSettings, PostCallField

QA_BUCKETS = ((90, "90-100"), (70, "70-89"), (50, "50-69"), (0, "0-49"))


async def fetch_all(client: httpx.AsyncClient, campaign_id: str) -> dict[str, Any]:
    campaign = (
        (await client.get(f"/api/v1/campaigns/{campaign_id}")).raise_for_status().json()
    )
    targets: list[dict[str, Any]] = []
    page: int | None = 0
    while page is not None:
        body = (
            (
                await client.get(
                    f"/api/v1/campaigns/{campaign_id}/targets",
                    params={"page": page, "limit": 100},
                )
            )
            .raise_for_status()
            .json()
        )
        targets.extend(body["targets"])
        page = body["next_page"]
    call_logs: list[dict[str, Any]] = []
    page = 0
    while page is not None:
        body = (
            (
                await client.get(
                    "/api/v1/call-logs",
                    params={"campaign_id": campaign_id, "page": page, "limit": 1000},
                )
            )
            .raise_for_status()
            .json()
        )
        call_logs.extend(body["call_logs"])
        page = body["next_page"]
    call_logs.sort(key=lambda log: int(log["id"]))
    return {"campaign": campaign, "targets": targets, "call_logs": call_logs}


def _same(field: PostCallField, got: Any, expected: Any) -> bool:
    try:
        return normalize_value(field, got) == normalize_value(field, expected)
    except (ValueError, TypeError):
        return False


def extraction_accuracy(
    fields: list[PostCallField], call_logs: list[dict[str, Any]]
) -> dict[str, dict[str, int]]:
    """Per field: how many calls' extracted values match the facts the simulated
    far end held (only calls where the far end held that fact)."""
    by_name = {field.name: field for field in fields}
    accuracy: dict[str, dict[str, int]] = {}
    for log in call_logs:
        facts = (log.get("provider_data") or {}).get("facts") or {}
        if log.get("disposition") not in ("completed", "incomplete"):
            continue
        extracted = log.get("post_call_data") or {}
        for name, expected in facts.items():
            field = by_name.get(name)
            if field is None:
                continue
            row = accuracy.setdefault(name, {"facts": 0, "extracted": 0, "correct": 0})
            row["facts"] += 1
            if name in extracted:
                row["extracted"] += 1
                row["correct"] += int(_same(field, extracted[name], expected))
    return accuracy


def qa_bucket(score: float | None) -> str:
    if score is None:
        return "n/a"
    for floor, label in QA_BUCKETS:
        if score >= floor:
            return label
    return "0-49"


def summarize(data: dict[str, Any], webhooks: dict[str, int]) -> dict[str, Any]:
    targets = data["targets"]
    logs = data["call_logs"]
    last_log: dict[str, dict[str, Any]] = {}
    for log in logs:
        if log.get("campaign_target_id"):
            last_log[log["campaign_target_id"]] = log
    qa_scores = Counter(
        qa_bucket(((last_log.get(t["id"]) or {}).get("qa") or {}).get("score"))
        for t in targets
    )
    settings = CampaignSettings.model_validate(
        {
            k: v
            for k, v in data["campaign"].items()
            if k in CampaignSettings.model_fields
        }
    )
    return {
        "targets": len(targets),
        "calls": len(logs),
        "by_status": dict(Counter(t["status"] for t in targets).most_common()),
        "by_category": dict(
            Counter(t["category"] or "-" for t in targets).most_common()
        ),
        "attempts_per_target": dict(
            sorted(Counter(t["attempt"] for t in targets).items())
        ),
        "qa_scores": {label: qa_scores.get(label, 0) for _, label in QA_BUCKETS}
        | {"n/a": qa_scores.get("n/a", 0)},
        "extraction_accuracy": extraction_accuracy(settings.post_call.fields, logs),
        "webhooks": webhooks,
    }


def write_results(
    out: Path, data: dict[str, Any], summary: dict[str, Any]
) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    logs_by_target: dict[str, list[dict[str, Any]]] = {}
    for log in data["call_logs"]:
        logs_by_target.setdefault(log.get("campaign_target_id") or "", []).append(log)
    json_path = out / "results.json"
    json_path.write_text(
        json.dumps(
            {
                "campaign": data["campaign"],
                "summary": summary,
                "targets": [
                    {**target, "call_logs": logs_by_target.get(target["id"], [])}
                    for target in data["targets"]
                ],
            },
            indent=2,
            default=str,
        )
    )
    output_keys = sorted(
        {key for t in data["targets"] for key in (t["output_data"] or {})}
    )
    csv_path = out / "results.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        base = [
            "id",
            "external_id",
            "phone_number",
            "status",
            "category",
            "subcategory",
            "resolution",
            "outcome",
            "attempts",
            "qa_score",
            "scenario",
            "last_call_date",
        ]
        writer.writerow(base + output_keys)
        for target in data["targets"]:
            logs = logs_by_target.get(target["id"], [])
            last = logs[-1] if logs else {}
            writer.writerow(
                [
                    target["id"],
                    target["external_id"] or "",
                    target["phone_number"],
                    target["status"],
                    target["category"] or "",
                    target["subcategory"] or "",
                    target["resolution"] or "",
                    target["outcome"] or "",
                    target["attempt"],
                    (last.get("qa") or {}).get("score", ""),
                    (last.get("provider_data") or {}).get("scenario", ""),
                    target["last_call_date"] or "",
                ]
                + [_cell((target["output_data"] or {}).get(key)) for key in output_keys]
            )
    return json_path, csv_path


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    console.print(
        f"\n[bold]{summary['targets']} targets, {summary['calls']} calls[/bold]"
    )
    for title, key in (
        ("Targets by status", "by_status"),
        ("Targets by category", "by_category"),
        ("Attempts per target", "attempts_per_target"),
        ("QA score (last call)", "qa_scores"),
    ):
        table = Table(title=title, title_justify="left")
        table.add_column("value")
        table.add_column("targets", justify="right")
        for value, count in summary[key].items():
            table.add_row(str(value), str(count))
        console.print(table)
    table = Table(
        title="Extraction accuracy against the simulated facts", title_justify="left"
    )
    for column in ("field", "calls with fact", "extracted", "correct", "accuracy"):
        table.add_column(column, justify="left" if column == "field" else "right")
    totals = Counter()
    for name, row in summary["extraction_accuracy"].items():
        totals.update(row)
        share = row["correct"] / row["facts"] if row["facts"] else 0
        table.add_row(
            name,
            str(row["facts"]),
            str(row["extracted"]),
            str(row["correct"]),
            f"{share:.1%}",
        )
    if totals["facts"]:
        table.add_row(
            "all",
            str(totals["facts"]),
            str(totals["extracted"]),
            str(totals["correct"]),
            f"{totals['correct'] / totals['facts']:.1%}",
        )
    console.print(table)
    hooks = summary["webhooks"]
    console.print(
        f"Webhooks: {hooks['received']} received, {hooks['verified']} verified, "
        f"{hooks['unique']} distinct ids, {hooks['target_finished']} "
        f"campaign_target_finished, {hooks['campaign_finished']} campaign_finished"
    )
