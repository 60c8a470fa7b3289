"""Target ingest benchmark: targets per second through the API, against a raw
``executemany`` of the same rows into the same database.

Starts ``callfleet api`` on a free 127.0.0.1 port (or uses ``--url`` and
``--api-key`` of a running server), posts ``--targets`` targets in requests of
``--batch``, samples the server's resident memory, then inserts the same number
of rows into the targets table of a scratch campaign with the database driver's
own ``executemany``. Prints the rates, their ratio and memory after each batch.

    python bench/ingest.py
    python bench/ingest.py --database-url postgresql://postgres@127.0.0.1:5432/test

With a PostgreSQL URL a database ``callfleet_bench_ingest_*`` is created next to
the one named in the URL and dropped at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy.engine import make_url

AREA_CODES = ("201", "212", "312", "415", "617", "646", "718", "917", "202", "305")


def phone_number(n: int) -> str:
    """A distinct valid US number for every n below 1,000,000."""
    area = AREA_CODES[n // 100_000 % len(AREA_CODES)]
    exchange = 200 + (n // 10_000) % 10 * 11
    return f"+1{area}{exchange}{n % 10_000:04d}"


def target(n: int) -> dict[str, Any]:
    return {
        "external_id": f"EXT-{n:07d}",
        "phone_number": phone_number(n),
        "input_data": {
            "claim_number": f"CLM-{n:08d}",
            "member_id": f"M{n * 7919 % 10**9:09d}",
            "patient_name": f"Patient {n}",
            "date_of_birth": "1980-04-12",
            "npi": "1234567893",
        },
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MemorySampler:
    """Peak RSS of one process, sampled in a thread."""

    def __init__(self, pid: int, interval_s: float = 0.02) -> None:
        self.process = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        value = self.process.memory_info().rss
        self.peak = max(self.peak, value)
        return value

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.rss()
            except psutil.Error:
                return
            self._stop.wait(self.interval_s)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    import psycopg

    parsed = make_url(admin_url)
    name = f"callfleet_bench_ingest_{uuid.uuid4().hex[:10]}"
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def api_server(database_url: str) -> Iterator[tuple[str, str, int]]:
    """``callfleet api`` on a free port; yields (url, api key, pid)."""
    port = free_port()
    cli = Path(sys.executable).parent / "callfleet"
    key = "cf_bench_" + uuid.uuid4().hex
    process = subprocess.Popen(
        [str(cli), "api", "--database-url", database_url, "--port", str(port)],
        env={
            **os.environ,
            "CALLFLEET_API_KEY": key,
            "CALLFLEET_HOST": "127.0.0.1",
            "CALLFLEET_LOG_LEVEL": "WARNING",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError("callfleet api exited while starting")
            try:
                if httpx.get(f"{url}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("callfleet api did not start")
            time.sleep(0.1)
        yield url, key, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def post_targets(
    client: httpx.Client,
    campaign_id: str,
    total: int,
    batch: int,
    sampler: MemorySampler | None,
) -> tuple[float, list[int]]:
    """Seconds spent posting, and server RSS after each batch."""
    bodies = [
        json.dumps(
            {"targets": [target(n) for n in range(start, min(start + batch, total))]}
        ).encode()
        for start in range(0, total, batch)
    ]
    after_batch: list[int] = []
    elapsed = 0.0
    for body in bodies:
        began = time.perf_counter()
        response = client.post(
            f"/api/v1/campaigns/{campaign_id}/targets",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        elapsed += time.perf_counter() - began
        response.raise_for_status()
        if sampler is not None:
            after_batch.append(sampler.rss())
    return elapsed, after_batch


COLUMNS = (
    "id",
    "organization_id",
    "campaign_id",
    "external_id",
    "phone_number",
    "timezones",
    "input_data",
    "output_data",
    "content_hash",
    "status",
    "attempt",
    "max_attempts",
    "free_retries",
    "disposition_streak",
    "queue_rank",
    "execution_seconds",
    "cancel_requested",
    "created_at",
    "updated_at",
)


def raw_rows(
    total: int, org_id: str, campaign_id: str, postgres: bool
) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC)
    stamp = now if postgres else now.replace(tzinfo=None).isoformat(" ")
    for n in range(total):
        item = target(n)
        input_data = json.dumps(item["input_data"])
        yield (
            str(uuid.uuid4()),
            org_id,
            campaign_id,
            item["external_id"],
            item["phone_number"],
            '["America/New_York"]',
            input_data,
            "{}",
            hashlib.sha256(input_data.encode()).hexdigest(),
            "Pending",
            0,
            3,
            0,
            0,
            n,
            0.0,
            False,
            stamp,
            stamp,
        )


def raw_insert(database_url: str, org_id: str, campaign_id: str, total: int) -> float:
    """Seconds to insert ``total`` target rows with the driver's executemany."""
    postgres = make_url(database_url).get_backend_name() == "postgresql"
    columns = ", ".join(COLUMNS)
    if postgres:
        import psycopg

        conninfo = (
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        with psycopg.connect(conninfo) as connection:
            began = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO targets ({columns}) VALUES ({placeholders})",
                    list(raw_rows(total, org_id, campaign_id, True)),
                )
            connection.commit()
            return time.perf_counter() - began

    import sqlite3

    path = make_url(database_url).database
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        placeholders = ", ".join(["?"] * len(COLUMNS))
        began = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            f"INSERT INTO targets ({columns}) VALUES ({placeholders})",
            list(raw_rows(total, org_id, campaign_id, False)),
        )
        connection.execute("COMMIT")
        return time.perf_counter() - began
    finally:
        connection.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    with httpx.Client(
        base_url=args.url, headers={"X-Api-Key": args.api_key}, timeout=600
    ) as client:
        campaign = client.post("/api/v1/campaigns", json={"name": "ingest bench"})
        campaign.raise_for_status()
        campaign_id = campaign.json()["id"]
        org_id = campaign.json()["organization_id"]
        scratch = client.post("/api/v1/campaigns", json={"name": "raw baseline"})
        scratch.raise_for_status()

        sampler = MemorySampler(args.pid) if args.pid else None
        if sampler is not None:
            sampler.__enter__()
        try:
            rss_start = sampler.rss() if sampler else None
            api_seconds, rss_after = post_targets(
                client, campaign_id, args.targets, args.batch, sampler
            )
        finally:
            if sampler is not None:
                sampler.__exit__(None, None, None)

    raw_seconds = raw_insert(
        args.database_url, org_id, scratch.json()["id"], args.targets
    )
    api_rate = args.targets / api_seconds
    raw_rate = args.targets / raw_seconds
    return {
        "database": make_url(args.database_url).get_backend_name(),
        "targets": args.targets,
        "batch": args.batch,
        "api_seconds": round(api_seconds, 2),
        "api_targets_per_s": round(api_rate),
        "raw_seconds": round(raw_seconds, 2),
        "raw_rows_per_s": round(raw_rate),
        "ratio": round(api_rate / raw_rate, 3),
        "rss_start_mb": round(rss_start / 2**20, 1) if rss_start else None,
        "rss_after_batch_mb": [round(v / 2**20, 1) for v in rss_after],
        "rss_peak_mb": round(sampler.peak / 2**20, 1) if sampler else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument(
        "--database-url",
        help="Database of the server started here (default: a temporary SQLite "
        "file), or of the server at --url (needed for the raw baseline).",
    )
    parser.add_argument("--url", help="Base URL of a running callfleet server.")
    parser.add_argument("--api-key", help="API key for --url.")
    parser.add_argument("--pid", type=int, help="Server process id for --url.")
    args = parser.parse_args()

    if args.url:
        if not (args.api_key and args.database_url):
            parser.error("--url needs --api-key and --database-url")
        report = run(args)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            url = args.database_url or f"sqlite:///{Path(scratch) / 'ingest.db'}"
            if make_url(url).get_backend_name() == "postgresql":
                database = postgres_database(url)
            else:
                database = _just(url)
            with database as database_url, api_server(database_url) as server:
                args.url, args.api_key, args.pid = server
                args.database_url = database_url
                report = run(args)

    print(json.dumps(report, indent=2))
    if report["ratio"] < 0.3:
        print(f"ratio {report['ratio']} is under the 0.3 aim", file=sys.stderr)


@contextmanager
def _just(value: str) -> Iterator[str]:
    yield value


if __name__ == "__main__":
    main()
