"""Wire format of API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)


class ApiKeyView(BaseModel):
    id: str
    name: str
    prefix: str = Field(
        description="The first characters of the key, to tell keys apart."
    )
    organization_id: str
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyView):
    key: str = Field(description="The secret key. Shown in this response only.")


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyView]
