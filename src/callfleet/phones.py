"""Phone numbers: parsing to E.164 and the time zones a number may be in."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as phone_timezones


class InvalidPhoneNumber(ValueError):
    pass


@lru_cache(maxsize=65_536)
def normalize(raw: str, region: str = "US") -> str:
    """Parse ``raw`` (any common format; without a country code it is read in
    ``region``) and return it in E.164, or raise InvalidPhoneNumber saying why."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number ({exc._msg})") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(
            f"{raw!r} is not a valid phone number"
            + (
                f" in region {region}"
                if not text.startswith("+") and not text.startswith("00")
                else ""
            )
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65_536)
def time_zones(e164: str) -> tuple[str, ...]:
    """Every IANA zone the number may be in, per libphonenumber's geodata."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = phone_timezones.time_zones_for_number(parsed)
    return tuple(zone for zone in zones if zone != phone_timezones.UNKNOWN_TIMEZONE)
