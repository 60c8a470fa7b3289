"""Scenario definitions: what the far end of a simulated call does.

A scenario is data (YAML). Exactly one of ``network``, ``recording``,
``voicemail``, ``ivr`` or ``person`` decides who (or what) picks up; an IVR
ends in a person reached after hold music.
"""

from __future__ import annotations

import functools
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SCENARIO_PACKAGE = "callfleet.telephony.simulator"


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with the file and field named."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkOutcome(_Model):
    """The call never connects: the network answers with a SIP-like code."""

    code: int = Field(ge=100, le=699)
    reason: str


class Recording(_Model):
    """A machine plays a message and hangs up (e.g. "our office is closed")."""

    text: str


class VoicemailBox(_Model):
    greeting: str = (
        "Hi, you have reached our voicemail. Please leave a message after the tone."
    )
    max_message_s: float = Field(default=60, gt=0)


class RandomValue(_Model):
    """A value drawn deterministically per target: exactly one kind is given."""

    money: tuple[float, float] | None = None
    integer: tuple[int, int] | None = None
    choice: list[str] | None = None
    date: tuple[str, str] | None = None  # ISO dates, inclusive range
    digits: int | None = Field(default=None, ge=1, le=30)
    prefix: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> RandomValue:
        kinds = [
            k
            for k in ("money", "integer", "choice", "date", "digits")
            if getattr(self, k)
        ]
        if len(kinds) != 1:
            raise ValueError("give exactly one of money, integer, choice, date, digits")
        return self


class Fact(_Model):
    """Something the person knows. ``value`` is the truth kept in the call's
    metadata; ``answer`` is what they say (defaults to the value). Both are
    templates over the target's input data and the scenario's variables."""

    value: str
    answer: str | None = None
    aliases: list[str] = Field(default_factory=list)


class VerificationCheck(_Model):
    """The person asks for one piece of data and checks it against the
    target's input data (first key present in ``keys``)."""

    question: str
    keys: list[str] = Field(min_length=1)
    kind: Literal["text", "date"] = "text"
    skip_if_missing: bool = Field(
        default=False,
        description="Skip the check for targets without any of the keys.",
    )


class TransferStep(_Model):
    """The person hands the call on: says ``message``, hold music for
    ``hold_s``, then a colleague answers with ``greeting``."""

    message: str = "Let me transfer you to the right department, one moment please."
    hold_s: float = Field(default=30, ge=0)
    hold_message: str = "Please hold while we transfer your call."
    greeting: str = "Claims department, this is Sam. How can I help you?"


class Person(_Model):
    greeting: str = "Hello?"
    reply_to_opening: str = "Sure, how can I help you?"
    hang_up_after_opening: bool = False
    hang_up_after_turns: int | None = Field(default=None, ge=1)
    hang_up_message: str = "Sorry, I have to go now."
    asks_for_transfer: str | None = None
    transfer: TransferStep | None = None
    verification: list[VerificationCheck] = Field(default_factory=list)
    verified_message: str = (
        "Thank you, that matches our records. What can I help you with?"
    )
    mismatch_message: str = "I'm sorry, that doesn't match our records."
    refusal_message: str = (
        "I'm sorry, I can't release any information without verification."
    )
    variables: dict[str, RandomValue] = Field(default_factory=dict)
    facts: dict[str, Fact] = Field(default_factory=dict)
    unknown_message: str = "I'm sorry, I don't have that information."
    goodbye: str = "You're welcome. Goodbye!"
    words_per_second: float = Field(default=2.5, gt=0)


class IvrNode(_Model):
    """A menu (``prompt`` + ``options``), a connection to the person after
    hold music (``connect``), or a message followed by hanging up (``say`` +
    ``hang_up``)."""

    prompt: str | None = None
    options: dict[str, IvrNode] = Field(default_factory=dict)
    connect: bool = False
    hold_s: float = Field(default=20, ge=0)
    hold_message: str = "Please hold, your call is important to us."
    say: str | None = None
    hang_up: bool = False

    @model_validator(mode="after")
    def _shape(self) -> IvrNode:
        if self.options and not self.prompt:
            raise ValueError("a menu with options needs a prompt")
        if not (self.options or self.connect or self.hang_up):
            raise ValueError("a node needs options, connect: true or hang_up: true")
        for digit in self.options:
            if digit not in set("0123456789*#"):
                raise ValueError(f"option {digit!r} is not a single DTMF key")
        return self


class Ivr(_Model):
    welcome: str = "Thank you for calling."
    menu: IvrNode
    invalid_message: str = "Sorry, that is not a valid option."
    max_retries: int = Field(default=2, ge=0)


class Scenario(_Model):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    ring_s: float = Field(default=6, ge=0)
    network: NetworkOutcome | None = None
    recording: Recording | None = None
    voicemail: VoicemailBox | None = None
    ivr: Ivr | None = None
    person: Person | None = None
    source: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _who_answers(self) -> Scenario:
        picked = [
            k for k in ("network", "recording", "voicemail", "ivr") if getattr(self, k)
        ]
        if self.person is not None and not self.ivr:
            picked.append("person")
        if len(picked) != 1:
            raise ValueError(
                "a scenario needs exactly one of network, recording, voicemail, "
                f"ivr or person (an ivr may add a person); got {picked or 'none'}"
            )
        if self.ivr and self.person is None and _connects(self.ivr.menu):
            raise ValueError("an ivr with a 'connect' option needs a 'person'")
        return self


def _connects(node: IvrNode) -> bool:
    return node.connect or any(_connects(child) for child in node.options.values())


def parse_scenario(data: Any, *, source: str) -> Scenario:
    """Validate one scenario; errors name ``source`` and the failing field."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a mapping")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ScenarioError(f"{source}: {problems}") from exc


def load_scenario_file(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    if isinstance(data, dict) and "name" not in data:
        data = {**data, "name": path.stem}
    return parse_scenario(data, source=str(path))


def load_scenario_dir(directory: str | Path) -> list[Scenario]:
    return [load_scenario_file(p) for p in sorted(Path(directory).glob("*.yaml"))]


class ScenarioLibrary:
    """Named scenarios: the shipped ones plus any added (e.g. MultiDoGO)."""

    def __init__(self, scenarios: list[Scenario] | None = None) -> None:
        self._scenarios: dict[str, Scenario] = {}
        for scenario in scenarios or []:
            self.add(scenario)

    def add(self, scenario: Scenario) -> None:
        self._scenarios[scenario.name] = scenario

    def get(self, name: str) -> Scenario:
        try:
            return self._scenarios[name]
        except KeyError:
            raise KeyError(f"unknown scenario {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._scenarios

    def names(self) -> list[str]:
        return list(self._scenarios)

    def copy(self) -> ScenarioLibrary:
        return ScenarioLibrary(list(self._scenarios.values()))

    @classmethod
    def default(cls) -> ScenarioLibrary:
        """A fresh library holding the shipped scenarios (parsed once) and those
        registered in this process."""
        return cls([*_shipped(), *_registered.values()])


_registered: dict[str, Scenario] = {}


def register_scenarios(scenarios: list[Scenario]) -> None:
    """Make scenarios known to every library made by ``ScenarioLibrary.default``
    in this process (e.g. recorded conversations loaded at start-up)."""
    for scenario in scenarios:
        _registered[scenario.name] = scenario


def load_scenario_paths(paths: list[str]) -> int:
    """Register the scenarios of YAML files or folders and MultiDoGO ``.tsv``
    files; returns how many were registered."""
    from callfleet.telephony.simulator.multidogo import load_multidogo

    loaded: list[Scenario] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            loaded.extend(load_scenario_dir(path))
        elif path.suffix == ".tsv":
            loaded.extend(load_multidogo(path))
        elif path.is_file():
            loaded.append(load_scenario_file(path))
        else:
            raise ScenarioError(f"no scenario file or folder at {path}")
    register_scenarios(loaded)
    return len(loaded)


_lock = threading.Lock()


@functools.cache
def _shipped() -> tuple[Scenario, ...]:
    with _lock:
        folder = resources.files(SCENARIO_PACKAGE) / "scenarios"
        scenarios = []
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yaml"):
                with resources.as_file(entry) as path:
                    scenarios.append(load_scenario_file(path))
        return tuple(scenarios)
