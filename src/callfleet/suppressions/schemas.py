"""Wire format of the do-not-call list."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SuppressionCreate(BaseModel):
    """One number (``phone_number``) or several (``phone_numbers``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone_number: str | None = Field(default=None, max_length=64)
    phone_numbers: list[str] | None = Field(default=None, max_length=10_000)
    reason: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _some_number(self) -> SuppressionCreate:
        if not self.phone_number and not self.phone_numbers:
            raise ValueError("give 'phone_number' or 'phone_numbers'")
        return self

    def numbers(self) -> list[str]:
        numbers = list(self.phone_numbers or [])
        if self.phone_number:
            numbers.insert(0, self.phone_number)
        return numbers


class SuppressionView(BaseModel):
    id: str
    phone_number: str
    reason: str
    source: str = Field(
        description="api: added through the API; call: asked for during a call."
    )
    call_log_id: int | None
    created_at: datetime


class SuppressionsCreated(BaseModel):
    created: int
    already_present: int
    suppressions: list[SuppressionView]


class SuppressionList(BaseModel):
    suppressions: list[SuppressionView]
    total: int
    page: int
    page_count: int
    next_page: int | None
