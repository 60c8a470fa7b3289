"""Prosper's pagination: 0-based pages, ``page_count`` and ``next_page``."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import BeforeValidator


def page_meta(total: int, page: int, limit: int) -> tuple[int, int | None]:
    page_count = math.ceil(total / limit) if total else 0
    next_page = page + 1 if page + 1 < page_count else None
    return page_count, next_page


_PLAIN_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _through_end_of_day(value: Any) -> Any:
    """A plain date as an upper bound means the whole of that day, so that
    ``to_date=2024-01-31`` includes the 31st."""
    if isinstance(value, str) and _PLAIN_DATE.match(value.strip()):
        day = date.fromisoformat(value.strip())
        return datetime.combine(day, time.max, tzinfo=UTC)
    return value


# Upper bounds of date filters: a date alone covers its whole day (UTC).
UntilDate = Annotated[datetime | None, BeforeValidator(_through_end_of_day)]


def as_utc(value: datetime | None) -> datetime | None:
    """A query date without an offset is read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
