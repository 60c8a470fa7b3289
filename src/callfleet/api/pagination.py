"""Prosper's pagination: 0-based pages, ``page_count`` and ``next_page``."""

from __future__ import annotations

import math


def page_meta(total: int, page: int, limit: int) -> tuple[int, int | None]:
    page_count = math.ceil(total / limit) if total else 0
    next_page = page + 1 if page + 1 < page_count else None
    return page_count, next_page
