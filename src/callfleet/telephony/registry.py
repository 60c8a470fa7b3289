"""Telephony providers by name: ``simulator`` is built in, others register."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callfleet.campaigns.settings import TelephonySettings
from callfleet.clock import Clock
from callfleet.telephony.base import TelephonyProvider

ProviderFactory = Callable[..., TelephonyProvider]
"""Called as ``factory(telephony_settings, clock=clock, **options)``."""

_factories: dict[str, ProviderFactory] = {}


def register_provider(name: str, factory: ProviderFactory) -> None:
    _factories[name] = factory


def provider_names() -> list[str]:
    return sorted(_factories)


def create_provider(
    name: str, telephony_settings: TelephonySettings, *, clock: Clock, **options: Any
) -> TelephonyProvider:
    """A provider for a campaign's telephony settings; unknown names raise
    ``ValueError``."""
    factory = _factories.get(name)
    if factory is None:
        known = ", ".join(provider_names())
        raise ValueError(f"unknown telephony provider {name!r} (known: {known})")
    return factory(telephony_settings, clock=clock, **options)


def _simulator(
    settings: TelephonySettings, *, clock: Clock, **options: Any
) -> TelephonyProvider:
    from callfleet.telephony.simulator.provider import SimulatorProvider

    return SimulatorProvider(
        settings.simulation,
        clock=clock,
        scenario_library=options.get("scenario_library"),
    )


register_provider("simulator", _simulator)
