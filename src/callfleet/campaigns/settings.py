"""Campaign settings: the validated shape of everything a campaign configures.

These models are pure data (no database, no HTTP) so that the scheduling math,
the agent, the simulator and the analysis can all take them as input.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import jinja2
import jinja2.meta
import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_template_env = jinja2.Environment(
    undefined=jinja2.ChainableUndefined, autoescape=False
)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def parse_clock(value: str) -> time | None:
    """Parse "HH:MM"; "24:00" (end of day) gives None."""
    if value == "24:00":
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def validate_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    if value not in _zones():
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


_ZONES: set[str] | None = None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC"}
    return _ZONES


@lru_cache(maxsize=1024)
def template_variables(source: str) -> frozenset[str]:
    """Names a template reads from its context (input data)."""
    return frozenset(jinja2.meta.find_undeclared_variables(_template_env.parse(source)))


def render_template(source: str, context: dict[str, Any]) -> str:
    return _compiled(source).render(**context).strip()


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> jinja2.Template:
    # Compiling costs far more than rendering, and a campaign renders the same
    # few templates on every call.
    return _template_env.from_string(source)


def _check_template(value: str) -> str:
    try:
        _template_env.parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(
            f"invalid template: {exc.message} (line {exc.lineno})"
        ) from exc
    return value


Template = Annotated[str, Field(max_length=20_000)]


# --- calling hours -----------------------------------------------------------


class TimeInterval(Settings):
    """One calling interval of a day in local time; ``end`` before ``start`` means
    the interval runs across midnight into the next day. ``24:00`` ends a day."""

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _TIME_RE.match(value):
            raise ValueError(f"time must be HH:MM (00:00 to 24:00), got {value!r}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> TimeInterval:
        if self.start == "24:00":
            raise ValueError("an interval cannot start at 24:00")
        if self.start == self.end or (self.start == "00:00" and self.end == "00:00"):
            raise ValueError(f"empty interval {self.start}-{self.end}")
        return self

    @property
    def start_time(self) -> time:
        start = parse_clock(self.start)
        assert start is not None
        return start

    @property
    def end_time(self) -> time | None:
        return parse_clock(self.end)

    @property
    def crosses_midnight(self) -> bool:
        end = self.end_time
        return end is not None and end <= self.start_time


class WeekSchedule(Settings):
    """Prosper's ``WeekSchedule`` plus holidays: local intervals per weekday.
    A day left out has no interval: no call that day."""

    model_config = ConfigDict(extra="forbid")

    monday: list[TimeInterval] = Field(default_factory=list)
    tuesday: list[TimeInterval] = Field(default_factory=list)
    wednesday: list[TimeInterval] = Field(default_factory=list)
    thursday: list[TimeInterval] = Field(default_factory=list)
    friday: list[TimeInterval] = Field(default_factory=list)
    saturday: list[TimeInterval] = Field(default_factory=list)
    sunday: list[TimeInterval] = Field(default_factory=list)
    tz: str = "US/Eastern"
    holidays: list[date] = Field(default_factory=list)

    _tz_check = field_validator("tz")(classmethod(lambda cls, v: validate_zone(v)))

    def day(self, weekday: int) -> list[TimeInterval]:
        """Intervals of a weekday, 0 = Monday."""
        return getattr(self, WEEKDAYS[weekday])

    def has_intervals(self) -> bool:
        return any(self.day(weekday) for weekday in range(7))

    @classmethod
    def always(cls, tz: str = "UTC") -> WeekSchedule:
        whole_day = [TimeInterval(start="00:00", end="24:00")]
        return cls(**{day: whole_day for day in WEEKDAYS}, tz=tz)


class OperatingHours(WeekSchedule):
    """Hours given on a target's phone number: days left out are closed."""


def default_calling_hours() -> WeekSchedule:
    """Weekdays 08:00-21:00 and Saturday 09:00-18:00, US/Eastern."""
    weekday = [TimeInterval(start="08:00", end="21:00")]
    return WeekSchedule(
        monday=weekday,
        tuesday=weekday,
        wednesday=weekday,
        thursday=weekday,
        friday=weekday,
        saturday=[TimeInterval(start="09:00", end="18:00")],
    )


def require_intervals(schedule: WeekSchedule | None) -> WeekSchedule | None:
    if schedule is not None and not schedule.has_intervals():
        raise ValueError(
            "these hours have no interval on any day, so no call could ever be "
            "placed; give at least one day an interval"
        )
    return schedule


# --- agent -------------------------------------------------------------------


class LLMSettings(Settings):
    """An OpenAI-compatible chat-completions endpoint."""

    base_url: str = Field(pattern=r"^https?://", max_length=2000)
    model: str = Field(min_length=1, max_length=200)
    api_key_env: str | None = Field(default=None, max_length=200)
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    temperature: float = Field(default=0.0, ge=0, le=2)


class VoicemailSettings(Settings):
    action: Literal["leave_message", "hang_up"] = "leave_message"
    message: Template = (
        "Hello, this is an automated call. Please call us back. Thank you."
    )

    _template = field_validator("message")(
        classmethod(lambda cls, v: _check_template(v))
    )


class AgentSettings(Settings):
    name: str = Field(default="Alex", min_length=1, max_length=100)
    first_message: Template = (
        "Hello, this is {{ agent_name }}, a virtual assistant. "
        "I am calling with a few quick questions."
    )
    instructions: Template = ""
    goal: str = Field(
        default="speak with a representative",
        max_length=500,
        description="What the agent is trying to reach; it steers IVR menu choices.",
    )
    end_message: Template = "Thank you for your help. Goodbye."
    brain: Literal["scripted", "llm"] = "scripted"
    llm: LLMSettings | None = None
    verification_keys: list[str] | None = Field(
        default=None,
        description="input_data keys the agent may give to verify itself; "
        "null allows every input_data key.",
    )
    voicemail: VoicemailSettings = Field(default_factory=VoicemailSettings)
    transfer_number: str | None = None
    max_duration_s: int = Field(default=900, ge=30, le=14_400)

    @field_validator("first_message", "instructions", "end_message")
    @classmethod
    def _templates(cls, value: str) -> str:
        return _check_template(value)

    @field_validator("verification_keys")
    @classmethod
    def _keys(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for key in value:
                if not key or len(key) > 200:
                    raise ValueError("verification keys must be 1 to 200 characters")
        return value

    @model_validator(mode="after")
    def _llm_needed(self) -> AgentSettings:
        if self.brain == "llm" and self.llm is None:
            raise ValueError("brain 'llm' needs an 'llm' endpoint")
        return self


# --- retries -----------------------------------------------------------------


class Disposition(StrEnum):
    """How an attempt ended, as the retry policy reads it."""

    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    DECLINED = "declined"
    FAILED = "failed"
    CAPACITY = "capacity"
    INVALID_NUMBER = "invalid_number"
    INTERRUPTED = "interrupted"
    DO_NOT_CALL = "do_not_call"
    WRONG_NUMBER = "wrong_number"
    AFTER_HOURS = "after_hours"
    TRANSFERRED = "transferred"


class RetryRule(Settings):
    delay_minutes: float = Field(default=60, ge=0, le=60 * 24 * 30)
    backoff: Literal["fixed", "exponential"] = "fixed"
    multiplier: float = Field(default=2.0, ge=1, le=10)
    max_delay_minutes: float = Field(default=60 * 24, ge=0, le=60 * 24 * 30)
    uses_attempt: bool = True
    final: bool = False


DEFAULT_RETRY_RULES: dict[Disposition, RetryRule] = {
    Disposition.COMPLETED: RetryRule(final=True),
    Disposition.INCOMPLETE: RetryRule(delay_minutes=60),
    Disposition.VOICEMAIL: RetryRule(delay_minutes=240),
    Disposition.NO_ANSWER: RetryRule(delay_minutes=120),
    Disposition.BUSY: RetryRule(delay_minutes=15),
    Disposition.DECLINED: RetryRule(final=True),
    Disposition.FAILED: RetryRule(delay_minutes=30, backoff="exponential"),
    Disposition.CAPACITY: RetryRule(delay_minutes=1, uses_attempt=False),
    Disposition.INVALID_NUMBER: RetryRule(final=True),
    Disposition.INTERRUPTED: RetryRule(delay_minutes=5),
    Disposition.DO_NOT_CALL: RetryRule(final=True),
    Disposition.WRONG_NUMBER: RetryRule(final=True),
    Disposition.AFTER_HOURS: RetryRule(delay_minutes=60),
    Disposition.TRANSFERRED: RetryRule(final=True),
}


class RetryPolicy(Settings):
    max_attempts: int = Field(default=3, ge=1, le=50)
    max_free_retries: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="Retries that use no attempt (e.g. carrier capacity) allowed "
        "per target before it fails.",
    )
    rules: dict[Disposition, RetryRule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fill_rules(self) -> RetryPolicy:
        self.rules = {**DEFAULT_RETRY_RULES, **self.rules}
        return self

    def rule(self, disposition: Disposition) -> RetryRule:
        return self.rules[disposition]


# --- concurrency -------------------------------------------------------------


class ConcurrencySettings(Settings):
    max_concurrent_calls: int = Field(default=5, ge=1, le=10_000)
    calls_per_second: float = Field(default=1.0, gt=0, le=1000)


# --- post-call ---------------------------------------------------------------


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    MONEY = "money"
    BOOLEAN = "boolean"
    DATE = "date"
    ENUM = "enum"
    PHONE = "phone"
    EMAIL = "email"
    IDENTIFIER = "identifier"


class PostCallField(Settings):
    name: str
    type: FieldType = FieldType.STRING
    description: str = Field(default="", max_length=2000)
    question: str = Field(default="", max_length=2000)
    required: bool = False
    values: list[str] | None = Field(
        default=None, description="Allowed values of an enum field."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(
                "field names start with a letter or _ and hold only letters, "
                "digits and _ (at most 64)"
            )
        return value

    @model_validator(mode="after")
    def _enum_values(self) -> PostCallField:
        if self.type is FieldType.ENUM:
            if not self.values:
                raise ValueError(f"enum field {self.name!r} needs a non-empty 'values'")
            if len(set(self.values)) != len(self.values):
                raise ValueError(f"enum field {self.name!r} has duplicate values")
        elif self.values is not None:
            raise ValueError(f"'values' only applies to enum fields ({self.name!r})")
        if not self.question:
            label = self.description or self.name.replace("_", " ")
            self.question = f"Could you tell me the {label}?"
        return self


class PostCallSettings(Settings):
    fields: list[PostCallField] = Field(default_factory=list, max_length=200)
    summary: bool = True

    @field_validator("fields")
    @classmethod
    def _unique(cls, fields: list[PostCallField]) -> list[PostCallField]:
        names = [f.name for f in fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"duplicate post-call field names: {', '.join(duplicates)}"
            )
        return fields


# --- QA ----------------------------------------------------------------------


class BuiltinCheck(StrEnum):
    GREETING = "greeting"
    VERIFIED_BEFORE_DISCLOSURE = "verified_before_disclosure"
    REQUIRED_FIELDS_COLLECTED = "required_fields_collected"
    NO_DISCLOSURE_TO_UNVERIFIED = "no_disclosure_to_unverified"
    POLITE_END = "polite_end"


class QACriterion(Settings):
    name: str = Field(min_length=1, max_length=100)
    type: Literal["pass_fail", "score"] = "pass_fail"
    weight: float = Field(default=1.0, gt=0, le=100)
    description: str = Field(default="", max_length=2000)
    check: BuiltinCheck | None = Field(
        default=None, description="A built-in check; otherwise phrases decide."
    )
    phrases: list[str] = Field(
        default_factory=list,
        description="Without a check: the criterion passes when the speaker says "
        "one of these phrases.",
    )
    speaker: Literal["agent", "callee"] = "agent"

    @model_validator(mode="after")
    def _decidable(self) -> QACriterion:
        if self.check is None and not self.phrases and not self.description:
            raise ValueError(
                f"criterion {self.name!r} needs a 'check', 'phrases' or a "
                "'description' for an LLM reviewer"
            )
        return self


def _default_criteria() -> list[QACriterion]:
    return [
        QACriterion(name=check.value, check=check, weight=weight)
        for check, weight in (
            (BuiltinCheck.GREETING, 1),
            (BuiltinCheck.VERIFIED_BEFORE_DISCLOSURE, 3),
            (BuiltinCheck.REQUIRED_FIELDS_COLLECTED, 3),
            (BuiltinCheck.NO_DISCLOSURE_TO_UNVERIFIED, 3),
            (BuiltinCheck.POLITE_END, 1),
        )
    ]


class QASettings(Settings):
    criteria: list[QACriterion] = Field(
        default_factory=_default_criteria, max_length=100
    )
    review_threshold: float = Field(default=70, ge=0, le=100)

    @field_validator("criteria")
    @classmethod
    def _unique(cls, criteria: list[QACriterion]) -> list[QACriterion]:
        names = [c.name for c in criteria]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate QA criterion names: {', '.join(duplicates)}")
        return criteria


# --- notifications -----------------------------------------------------------


class WebhookEventType(StrEnum):
    CAMPAIGN_TARGET_FINISHED = "campaign_target_finished"
    CAMPAIGN_FINISHED = "campaign_finished"


class WebhookEndpointSettings(Settings):
    url: str = Field(max_length=2000)
    events: list[WebhookEventType] = Field(
        default_factory=lambda: list(WebhookEventType), min_length=1
    )
    secret: str | None = Field(
        default=None,
        description="Signing secret (whsec_...). Generated when left out; "
        "never returned by reads.",
    )
    description: str = Field(default="", max_length=500)

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+", value, re.IGNORECASE):
            raise ValueError("webhook URL must be an absolute http(s) URL")
        authority = re.split(r"[/?#]", value.split("://", 1)[1], maxsplit=1)[0]
        if "@" in authority:
            raise ValueError(
                "webhook URL must not carry credentials (user:password@); "
                "receivers verify the signature instead"
            )
        return value


class NotificationSettings(Settings):
    webhooks: list[WebhookEndpointSettings] = Field(default_factory=list, max_length=20)


# --- telephony ---------------------------------------------------------------


class SimulationSettings(Settings):
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    time_scale: float = Field(
        default=0.05,
        ge=0,
        le=10,
        description="Real seconds each simulated second takes; 0 runs calls "
        "instantly, 1 in real time.",
    )
    scenarios: dict[str, float] = Field(default_factory=lambda: {"cooperative": 1.0})

    @field_validator("scenarios")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("scenarios needs at least one scenario")
        for name, weight in value.items():
            if weight < 0:
                raise ValueError(f"scenario {name!r} has a negative weight")
        if sum(value.values()) <= 0:
            raise ValueError("scenario weights must add up to more than 0")
        return value


class TelephonySettings(Settings):
    provider: str = Field(default="simulator", max_length=100)
    caller_ids: list[str] = Field(
        default_factory=lambda: ["+12015550100"], min_length=1
    )
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)
    calls_per_second_per_caller_id: float | None = Field(default=None, gt=0, le=1000)

    @field_validator("caller_ids")
    @classmethod
    def _e164(cls, value: list[str]) -> list[str]:
        normalized = []
        for number in value:
            try:
                parsed = phonenumbers.parse(number, None)
            except phonenumbers.NumberParseException as exc:
                raise ValueError(
                    f"caller id {number!r} is not an E.164 number"
                ) from exc
            if not phonenumbers.is_possible_number(parsed):
                raise ValueError(f"caller id {number!r} is not a possible number")
            normalized.append(
                phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            )
        return normalized


# --- the campaign ------------------------------------------------------------


class CampaignSettings(Settings):
    """Everything a campaign configures. Only ``name`` is required."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    direction: Literal["outbound"] = "outbound"
    agent: AgentSettings = Field(default_factory=AgentSettings)
    calling_hours: WeekSchedule = Field(
        default_factory=default_calling_hours,
        description="Days left out have no calling hours. Default: weekdays "
        "08:00-21:00, Saturday 09:00-18:00.",
    )
    timezone_policy: Literal["target", "campaign"] = Field(
        default="target",
        description="'target': hours apply in the target's own zone; "
        "'campaign': in the calling hours' tz.",
    )
    phone_region: str | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="Region for numbers without a country code; defaults to the "
        "server's setting.",
    )
    sla_hours: float | None = Field(default=None, gt=0, le=24 * 365)
    deadline: datetime | None = None
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    concurrency: ConcurrencySettings = Field(default_factory=ConcurrencySettings)
    post_call: PostCallSettings = Field(default_factory=PostCallSettings)
    qa: QASettings = Field(default_factory=QASettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    telephony: TelephonySettings = Field(default_factory=TelephonySettings)

    _hours = field_validator("calling_hours")(
        classmethod(lambda cls, v: require_intervals(v))
    )

    @field_validator("phone_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r}")
        return value

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("deadline needs a UTC offset, e.g. 2026-12-31T17:00:00Z")
        return value

    def template_sources(self) -> list[str]:
        agent = self.agent
        return [
            agent.first_message,
            agent.instructions,
            agent.end_message,
            agent.voicemail.message,
        ]

    def scripted_variables(self) -> frozenset[str]:
        """input_data keys that the campaign's own messages say."""
        names: set[str] = set()
        for source in self.template_sources():
            names |= template_variables(source)
        return frozenset(names)

    def required_variables(self) -> list[str]:
        """input_data keys that the campaign's templates and settings read."""
        names = set(self.scripted_variables()) - {"agent_name", "campaign_name"}
        if self.agent.verification_keys:
            names |= set(self.agent.verification_keys)
        return sorted(names)
