"""Server settings, read from the environment with the ``CALLFLEET_`` prefix."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Config(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALLFLEET_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./callfleet.db",
        description="SQLAlchemy URL; postgresql+asyncpg://... for scale-out.",
    )
    api_key: str | None = Field(
        default=None,
        description="Key for the default organization on first start, instead of "
        "a generated one.",
    )
    default_organization: str = "default"
    default_region: str = Field(
        default="US", description="Region for phone numbers without a country code."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65_535)
    public_base_url: str | None = Field(
        default=None, description="Base URL used in links such as target_url."
    )
    log_level: str = "INFO"
    log_json: bool = False
    max_body_bytes: int = 64 * 1024 * 1024
    max_targets_per_request: int = 10_000
    webhook_allow_private: bool = False
    scenario_paths: list[str] = Field(
        default_factory=list,
        description="Simulator scenario files or folders (YAML) and recorded "
        "MultiDoGO conversations (.tsv) that workers load at start.",
    )
    worker_id: str | None = None
    worker_poll_interval_s: float = 0.5
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 10.0

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        import phonenumbers

        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r}")
        return value

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_config() -> Config:
    return Config()
