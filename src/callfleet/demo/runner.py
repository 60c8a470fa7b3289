"""Run one campaign to the end on the embedded server, with a live progress
display, then summarize and write the results."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.live import Live
from rich.table import Table

from callfleet.config import Config
from callfleet.demo import report
from callfleet.demo.receiver import WebhookReceiver
from callfleet.embedded import EmbeddedServer
from callfleet.targets.status import FINAL_STATUSES, LIVE_STATUSES

BATCH = 10_000


class CampaignRunError(RuntimeError):
    pass


@dataclass
class RunResult:
    summary: dict[str, Any]
    results_json: Path
    results_csv: Path
    campaign_id: str


def _progress_table(counts: dict[str, int], webhooks: str, elapsed: float) -> Table:
    table = Table(title=f"Campaign progress ({elapsed:.0f}s)", title_justify="left")
    table.add_column("status")
    table.add_column("targets", justify="right")
    for status, count in sorted(counts.items()):
        table.add_row(status, str(count))
    in_flight = sum(counts.get(s.value, 0) for s in LIVE_STATUSES)
    table.add_row("[bold]calls in flight[/bold]", f"[bold]{in_flight}[/bold]")
    table.add_row("webhooks", webhooks)
    return table


def _done(counts: dict[str, int]) -> bool:
    final = {s.value for s in FINAL_STATUSES}
    return bool(counts) and all(status in final for status in counts)


async def _post_targets(
    client: httpx.AsyncClient, campaign_id: str, targets: list[dict[str, Any]]
) -> int:
    created = 0
    for start in range(0, len(targets), BATCH):
        response = await client.post(
            f"/api/v1/campaigns/{campaign_id}/targets",
            json={"targets": targets[start : start + BATCH], "launch": True},
        )
        if response.status_code != 200:
            raise CampaignRunError(
                f"the server refused the targets ({response.status_code}): "
                f"{response.text[:2000]}"
            )
        created += response.json()["created"]
    return created


async def _watch(
    client: httpx.AsyncClient,
    campaign_id: str,
    console: Console,
    webhooks: Callable[[], str],
    timeout_s: float,
) -> None:
    started = time.monotonic()
    last_line = 0.0

    async def counts() -> dict[str, int]:
        body = (await client.get(f"/api/v1/campaigns/{campaign_id}")).raise_for_status()
        return body.json()["target_counts"] or {}

    if console.is_terminal:
        with Live(console=console, refresh_per_second=8, transient=False) as live:
            while True:
                current = await counts()
                live.update(
                    _progress_table(current, webhooks(), time.monotonic() - started)
                )
                if _done(current):
                    return
                if time.monotonic() - started > timeout_s:
                    raise CampaignRunError(
                        f"campaign not finished after {timeout_s:.0f}s"
                    )
                await asyncio.sleep(0.25)
    while True:
        current = await counts()
        elapsed = time.monotonic() - started
        if _done(current) or elapsed - last_line >= 2:
            last_line = elapsed
            shown = ", ".join(f"{k}: {v}" for k, v in sorted(current.items()))
            console.print(f"[{elapsed:5.1f}s] {shown} | webhooks {webhooks()}")
        if _done(current):
            return
        if elapsed > timeout_s:
            raise CampaignRunError(f"campaign not finished after {timeout_s:.0f}s")
        await asyncio.sleep(0.25)


async def run_campaign(
    config: Config,
    *,
    campaign: dict[str, Any] | Callable[[str], dict[str, Any]],
    targets: list[dict[str, Any]],
    out: Path,
    console: Console,
    timeout_s: float = 600,
    keep_serving: bool = False,
    with_receiver: bool = False,
) -> RunResult:
    """``campaign`` is the campaign body, or a function of the receiver's URL
    that returns it when ``with_receiver`` is set."""
    receiver = WebhookReceiver() if with_receiver else None
    if receiver is not None:
        await receiver.__aenter__()
    try:
        async with EmbeddedServer(config) as server:
            key, url = server.api_key, server.url
            console.print(
                f"callfleet is serving on [bold]{url}[/bold] (API docs: {url}/docs)\n"
                f"API key: [bold]{key}[/bold]\n"
                f"Try: curl -H 'X-Api-Key: {key}' {url}/api/v1/campaigns"
            )
            async with httpx.AsyncClient(
                base_url=server.url, headers={"X-Api-Key": server.api_key}, timeout=120
            ) as client:
                body = campaign(receiver.url) if callable(campaign) else campaign
                response = await client.post("/api/v1/campaigns", json=body)
                if response.status_code != 201:
                    raise CampaignRunError(
                        f"the server refused the campaign ({response.status_code}): "
                        f"{response.text[:2000]}"
                    )
                created = response.json()
                campaign_id = created["id"]
                if receiver is not None:
                    receiver.secrets.extend(
                        e["secret"]
                        for e in created["webhook_endpoints"]
                        if e.get("secret")
                    )
                console.print(f"Campaign {campaign_id}: posting {len(targets)} targets")
                await _post_targets(client, campaign_id, targets)

                def webhook_line() -> str:
                    if receiver is None:
                        return "-"
                    received = len(receiver.received)
                    return f"{received} received, {receiver.verified} verified"

                await _watch(client, campaign_id, console, webhook_line, timeout_s)
                if receiver is not None:
                    # campaign_finished follows the last target's post-processing.
                    deadline = time.monotonic() + 15
                    while not receiver.events("campaign_finished"):
                        if time.monotonic() > deadline:
                            break
                        await asyncio.sleep(0.1)
                data = await report.fetch_all(client, campaign_id)
                webhooks = _webhook_stats(receiver)
                summary = report.summarize(data, webhooks)
                json_path, csv_path = report.write_results(out, data, summary)
                report.print_summary(console, summary)
                console.print(f"\nResults: {json_path} and {csv_path}")
                if keep_serving:
                    console.print(
                        f"Still serving on {server.url} with API key {server.api_key}; "
                        "press Ctrl-C to stop."
                    )
                    await asyncio.Event().wait()
                return RunResult(summary, json_path, csv_path, campaign_id)
    finally:
        if receiver is not None:
            await receiver.__aexit__(None, None, None)


def _webhook_stats(receiver: WebhookReceiver | None) -> dict[str, int]:
    if receiver is None:
        return {
            "received": 0,
            "verified": 0,
            "unique": 0,
            "target_finished": 0,
            "campaign_finished": 0,
        }
    return {
        "received": len(receiver.received),
        "verified": receiver.verified,
        "unique": receiver.unique_ids,
        "target_finished": len(receiver.events("campaign_target_finished")),
        "campaign_finished": len(receiver.events("campaign_finished")),
    }
