"""Phone numbers: parsing to E.164 and the time zones a number may be in."""

from __future__ import annotations

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


@lru_cache(maxsize=65_536)
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


def normalize(raw: str, region: str = "US") -> str:
    """Parse ``raw`` (any common format; without a country code it is read in
    ``region``) and return it in E.164, or raise InvalidPhoneNumber saying why."""
    return parse(raw, region)[0]


@lru_cache(maxsize=65_536)
def time_zones(e164: str) -> tuple[str, ...]:
    """Every IANA zone the number may be in, per libphonenumber's geodata."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    return _zones_of(parsed, number_type(parsed))
