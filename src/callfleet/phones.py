"""Phone numbers: parsing to E.164 and the time zones a number may be in."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType, is_number_type_geographical, number_type
from phonenumbers import timezone as phone_timezones


class InvalidPhoneNumber(ValueError):
    pass


def _zones_of(parsed: phonenumbers.PhoneNumber, kind: int) -> tuple[str, ...]:
    if is_number_type_geographical(kind, parsed.country_code):
        zones = phone_timezones.time_zones_for_geographical_number(parsed)
    else:
        zones = phone_timezones.time_zones_for_number(parsed)
    return tuple(zone for zone in zones if zone != phone_timezones.UNKNOWN_TIMEZONE)


@lru_cache(maxsize=4_096)
def parse(raw: str, region: str = "US") -> tuple[str, tuple[str, ...]]:
    """``raw`` in E.164 and every IANA zone it may be in, or InvalidPhoneNumber
    saying why. One parse and one type lookup: the type decides validity and
    whether the number has a place, and it is the costly step of both."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number ({exc._msg})") from exc
    # Same rule as phonenumbers.is_valid_number, which computes the type too.
    kind = number_type(parsed)
    if kind == PhoneNumberType.UNKNOWN:
        raise InvalidPhoneNumber(
            f"{raw!r} is not a valid phone number"
            + (
                f" in region {region}"
                if not text.startswith("+") and not text.startswith("00")
                else ""
            )
        )
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164, _zones_of(parsed, kind)


@lru_cache(maxsize=4_096)
def normalize_possible(raw: str, region: str = "US") -> str:
    """Like ``normalize``, but only the number's form is checked (its length for
    its country), not whether it is assigned: for numbers that are kept, not
    dialled first."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number ({exc._msg})") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber(f"{raw!r} has the wrong length for a phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize(raw: str, region: str = "US") -> str:
    """Parse ``raw`` (any common format; without a country code it is read in
    ``region``) and return it in E.164, or raise InvalidPhoneNumber saying why."""
    return parse(raw, region)[0]


@lru_cache(maxsize=4_096)
def time_zones(e164: str) -> tuple[str, ...]:
    """Every IANA zone the number may be in, per libphonenumber's geodata."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    return _zones_of(parsed, number_type(parsed))


# Parsing is pure Python and costs ~50 µs a number: a 10,000-target request
# spends about half a second in it. Large batches are parsed in worker processes
# so that the event loop (and the embedded worker's calls) keep running, and so
# that the work is spread over the machine's cores.
PARALLEL_MIN = 2_000
_pool: ProcessPoolExecutor | None = None


ParseResult = tuple[str, tuple[str, ...]] | str  # (e164, zones) or the error


def parse_many(raws: list[str], region: str) -> list[ParseResult]:
    results: list[ParseResult] = []
    for raw in raws:
        try:
            results.append(parse(raw, region))
        except InvalidPhoneNumber as exc:
            results.append(str(exc))
    return results


def _exit_with_parent(parent: int) -> None:
    """Runs in each worker process: end it when the process that made it is
    gone, however that process ended."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(
            max_workers=os.cpu_count() or 1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
    return _pool


def shutdown_pool() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


async def parse_all(raws: list[str], region: str) -> dict[str, ParseResult]:
    """Every distinct number of ``raws`` parsed, in worker processes when there
    are many."""
    distinct = list(dict.fromkeys(raws))
    if len(distinct) < PARALLEL_MIN:
        return dict(zip(distinct, parse_many(distinct, region), strict=True))
    loop = asyncio.get_running_loop()
    workers = os.cpu_count() or 1
    size = -(-len(distinct) // workers)
    chunks = [distinct[start : start + size] for start in range(0, len(distinct), size)]
    try:
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(_executor(), parse_many, chunk, region)
                for chunk in chunks
            )
        )
    except (BrokenProcessPool, OSError):
        # No worker processes to be had here: parse in this process instead.
        parts = [parse_many(chunk, region) for chunk in chunks]
    return {
        raw: result
        for chunk, part in zip(chunks, parts, strict=True)
        for raw, result in zip(chunk, part, strict=True)
    }
