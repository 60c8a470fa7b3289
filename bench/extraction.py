"""Extraction accuracy on recorded MultiDoGO insurance conversations.

Every conversation of the file becomes one simulated call (time scale 0): the
simulator plays the customer with their own recorded utterances, the scripted
agent asks for every MultiDoGO field, and the post-call analysis extracts the
values. Each value is compared with the dataset's slot label:

- exact: the value, as JSON text, equals the label text;
- normalized: both sides agree after the same per-type normalization
  (identifiers upper-case without spaces, e-mails and phones in canonical form,
  names case-folded).

Usage: python bench/extraction.py --data ../shared/data/multidogo/insurance-dev.tsv
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from callfleet.agent import AgentContext, run_conversation
from callfleet.agent.brains import create_brain
from callfleet.analysis import analyze
from callfleet.analysis.extraction import normalize_value
from callfleet.campaigns.settings import (
    CampaignSettings,
    PostCallSettings,
    QASettings,
    SimulationSettings,
    TelephonySettings,
)
from callfleet.clock import FakeClock
from callfleet.telephony.base import CallRequest
from callfleet.telephony.simulator import (
    MULTIDOGO_SLOT_FIELDS,
    load_multidogo,
    multidogo_fields,
)
from callfleet.telephony.simulator.provider import SimulatorProvider
from callfleet.telephony.simulator.scenario import Scenario, ScenarioLibrary

DEFAULT_DATA = Path(__file__).resolve().parents[2] / (
    "shared/data/multidogo/insurance-dev.tsv"
)
FIELD_LABELS = {name: label for label, name in MULTIDOGO_SLOT_FIELDS.items()}


@dataclass(slots=True)
class FieldScore:
    labelled: int = 0
    extracted: int = 0
    exact: int = 0
    normalized: int = 0

    def share(self, count: int) -> float:
        return count / self.labelled if self.labelled else 0.0


@dataclass(slots=True)
class BenchReport:
    calls: int
    seconds: float
    fields: dict[str, FieldScore] = field(default_factory=dict)
    misses: list[tuple[str, str, object]] = field(default_factory=list)

    @property
    def overall(self) -> FieldScore:
        total = FieldScore()
        for score in self.fields.values():
            total.labelled += score.labelled
            total.extracted += score.extracted
            total.exact += score.exact
            total.normalized += score.normalized
        return total

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else float("inf")


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def campaign(scenarios: Sequence[Scenario], seed: int) -> CampaignSettings:
    return CampaignSettings(
        name="MultiDoGO extraction benchmark",
        post_call=PostCallSettings(fields=multidogo_fields(), summary=True),
        qa=QASettings(),
        telephony=TelephonySettings(
            simulation=SimulationSettings(
                seed=seed, time_scale=0, scenarios={scenarios[0].name: 1.0}
            )
        ),
    )


async def _run(scenarios: list[Scenario], seed: int) -> BenchReport:
    settings = campaign(scenarios, seed)
    clock = FakeClock(autojump=True)
    provider = SimulatorProvider(
        settings.telephony.simulation,
        clock=clock,
        scenario_library=ScenarioLibrary(scenarios),
    )
    fields = {f.name: f for f in settings.post_call.fields}
    report = BenchReport(calls=len(scenarios), seconds=0.0)
    report.fields = {name: FieldScore() for name in fields}

    started = time.perf_counter()
    for index, scenario in enumerate(scenarios):
        request = CallRequest(
            call_id=str(index),
            to_number="+12015550100",
            from_number=settings.telephony.caller_ids[0],
            attempt=1,
            target_id=f"target-{index}",
            campaign_id="bench",
            options={"scenario": scenario.name},
        )
        context = AgentContext(campaign=settings, target_id=request.target_id)
        session = await provider.dial(request)
        result = await run_conversation(
            session, context, create_brain(context), clock=clock
        )
        analysis = analyze(result, settings, {})

        slots = scenario.source.get("slots", {})
        for name, f in fields.items():
            label = slots.get(FIELD_LABELS[name])
            if label is None:
                continue
            score = report.fields[name]
            score.labelled += 1
            value = analysis.post_call_data.get(name)
            if value is None:
                report.misses.append((name, label, None))
                continue
            score.extracted += 1
            score.exact += _as_text(value) == label
            same = normalize_value(f, value) == normalize_value(f, label)
            score.normalized += same
            if not same:
                report.misses.append((name, label, value))
    report.seconds = time.perf_counter() - started
    return report


def run_benchmark(
    path: str | Path, *, limit: int | None = None, seed: int = 0
) -> BenchReport:
    """Simulate, converse and analyze every conversation of the MultiDoGO file
    (the first ``limit`` ones) and score the extracted values."""
    scenarios = load_multidogo(path)
    if limit is not None:
        scenarios = scenarios[:limit]
    if not scenarios:
        raise ValueError(f"no conversations in {path}")
    return asyncio.run(_run(scenarios, seed))


def format_report(report: BenchReport, *, show_misses: int = 0) -> str:
    lines = [
        f"{'field':<12} {'labels':>6} {'found':>6} {'exact':>14} {'normalized':>14}",
        "-" * 56,
    ]

    def row(name: str, s: FieldScore) -> str:
        exact = f"{s.exact:>4} {s.share(s.exact):>7.1%}"
        norm = f"{s.normalized:>4} {s.share(s.normalized):>7.1%}"
        return f"{name:<12} {s.labelled:>6} {s.extracted:>6}   {exact}   {norm}"

    for name, score in report.fields.items():
        if score.labelled:
            lines.append(row(name, score))
    lines.append("-" * 56)
    lines.append(row("overall", report.overall))
    lines.append("")
    lines.append(
        f"{report.calls} simulated calls in {report.seconds:.2f} s wall clock: "
        f"{report.calls_per_second:.0f} calls/s (simulator + scripted agent + analysis)"
    )
    for name, label, value in report.misses[:show_misses]:
        lines.append(f"  miss {name}: label {label!r} got {value!r}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="MultiDoGO TSV file")
    parser.add_argument("--limit", type=int, default=None, help="first N conversations")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    parser.add_argument("--misses", type=int, default=0, help="list N wrong values")
    args = parser.parse_args(argv)

    # the per-call log events would drown the table
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)
    )
    path = args.data or DEFAULT_DATA
    if not path.is_file():
        print(
            f"MultiDoGO data not found at {path}; pass --data PATH to "
            "insurance-dev.tsv (see shared/data/multidogo/README.md).",
            file=sys.stderr,
        )
        return 2
    report = run_benchmark(path, limit=args.limit, seed=args.seed)
    print(format_report(report, show_misses=args.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
