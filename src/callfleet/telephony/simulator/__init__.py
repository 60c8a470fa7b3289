"""The simulated phone network, the default telephony provider."""

from callfleet.telephony.simulator.multidogo import (
    MULTIDOGO_SLOT_FIELDS,
    load_multidogo,
    multidogo_fields,
)
from callfleet.telephony.simulator.provider import SimulatedCall, SimulatorProvider
from callfleet.telephony.simulator.scenario import (
    Scenario,
    ScenarioError,
    ScenarioLibrary,
    load_scenario_dir,
    load_scenario_file,
    parse_scenario,
)

__all__ = [
    "MULTIDOGO_SLOT_FIELDS",
    "Scenario",
    "ScenarioError",
    "ScenarioLibrary",
    "SimulatedCall",
    "SimulatorProvider",
    "load_multidogo",
    "load_scenario_dir",
    "load_scenario_file",
    "multidogo_fields",
    "parse_scenario",
]
