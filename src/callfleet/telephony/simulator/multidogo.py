"""Scenarios built from recorded MultiDoGO insurance conversations.

Each conversation becomes a person who answers with the customer's own real
utterances: asked for a slot (policy number, car year, ...), they say the
utterance that carried it, exactly as recorded. The slot values are the facts,
keyed by the campaign field names of ``multidogo_fields()``.
"""

from __future__ import annotations

import csv
from collections import OrderedDict
from pathlib import Path

from callfleet.campaigns.settings import FieldType, PostCallField
from callfleet.telephony.simulator.scenario import Fact, Person, Scenario

DEFAULT_PATH = Path("../shared/data/multidogo/insurance-dev.tsv")
SCENARIO_PREFIX = "multidogo:"

MULTIDOGO_SLOT_FIELDS: dict[str, str] = {
    "name": "name",
    "policyid": "policy_id",
    "claimid": "claim_id",
    "ssn": "ssn_last4",
    "car_brand": "car_brand",
    "car_model": "car_model",
    "car_year": "car_year",
    "email_address": "email",
    "phone_number": "phone",
}

_FIELDS: list[tuple[str, FieldType, str, str, list[str]]] = [
    (
        "name",
        FieldType.STRING,
        "The customer's full name",
        "Could I have your full name, please?",
        ["full name", "your name", "who am i speaking with"],
    ),
    (
        "policy_id",
        FieldType.IDENTIFIER,
        "The insurance policy number",
        "What is your policy number?",
        ["policy number", "policy id", "policy"],
    ),
    (
        "claim_id",
        FieldType.IDENTIFIER,
        "The claim number",
        "What is the claim number?",
        ["claim number", "claim id", "claim reference"],
    ),
    (
        "ssn_last4",
        FieldType.IDENTIFIER,
        "The last four digits of the customer's social security number",
        "What are the last four digits of your social security number?",
        ["social security", "ssn", "last four digits", "last 4 digits"],
    ),
    (
        "car_brand",
        FieldType.STRING,
        "The make of the insured car",
        "What is the make of your car?",
        ["make of your car", "car make", "make", "brand", "manufacturer"],
    ),
    (
        "car_model",
        FieldType.STRING,
        "The model of the insured car",
        "And what model is it?",
        ["car model", "model of the car", "model", "what model"],
    ),
    (
        "car_year",
        FieldType.INTEGER,
        "The year the car was made",
        "What year was the car made?",
        ["what year", "year", "model year", "year of manufacture"],
    ),
    (
        "email",
        FieldType.EMAIL,
        "The customer's email address",
        "What is your email address?",
        ["email address", "email", "e mail"],
    ),
    (
        "phone",
        FieldType.PHONE,
        "The customer's phone number",
        "What is the best phone number to reach you?",
        ["phone number", "telephone", "callback number", "number to reach you"],
    ),
]

_ALIASES = {name: aliases for name, _, _, _, aliases in _FIELDS}
_OPENING_INTENTS = {"checkclaimstatus", "getproofofinsurance", "reportbrokenphone"}


def multidogo_fields(*, required: bool = False) -> list[PostCallField]:
    """The post-call fields a campaign uses to collect MultiDoGO slot values."""
    return [
        PostCallField(
            name=name,
            type=kind,
            description=description,
            question=question,
            required=required,
        )
        for name, kind, description, question, _ in _FIELDS
    ]


def _slot_runs(tokens: list[str], labels: list[str]) -> dict[str, str]:
    """Slot label -> its tokens in one utterance, joined by spaces."""
    found: dict[str, list[str]] = {}
    for token, label in zip(tokens, labels, strict=False):
        if label != "O":
            found.setdefault(label, []).append(token)
    return {label: " ".join(parts) for label, parts in found.items()}


def _literal(text: str) -> str:
    # Fact values and answers are templates; recorded text must stay verbatim.
    if "{" in text or "}" in text:
        return "{% raw %}" + text + "{% endraw %}"
    return text


def load_multidogo(path: str | Path = DEFAULT_PATH) -> list[Scenario]:
    """One person scenario per conversation of the MultiDoGO TSV file.

    A slot's value is taken from the last utterance that mentions it, so a
    customer's correction ("sorry, the year was 2012") wins.
    """
    conversations: OrderedDict[str, list[dict[str, str]]] = OrderedDict()
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            conversations.setdefault(row["conversationId"], []).append(row)

    scenarios = []
    for conversation_id, rows in conversations.items():
        rows.sort(key=lambda r: int(r["turnNumber"] or 0))
        slots: dict[str, str] = {}
        carriers: dict[str, list[tuple[str, str]]] = {}
        opening = None
        for row in rows:
            utterance = " ".join(row["utterance"].split())
            runs = _slot_runs(row["utterance"].split(), row["slot-labels"].split())
            for label, value in runs.items():
                slots[label] = value
                carriers.setdefault(label, []).append((value, utterance))
            if opening is None and not runs and row["intent"] in _OPENING_INTENTS:
                opening = utterance

        facts: dict[str, Fact] = {}
        for label, value in slots.items():
            field = MULTIDOGO_SLOT_FIELDS.get(label)
            if field is None:
                continue
            said = list(dict.fromkeys(u for v, u in carriers[label] if v == value))
            facts[field] = Fact(
                value=_literal(value),
                answer=_literal(". ".join(said)),
                aliases=_ALIASES[field],
            )
        scenarios.append(
            Scenario(
                name=f"{SCENARIO_PREFIX}{conversation_id}",
                description="A recorded MultiDoGO insurance customer.",
                ring_s=5,
                person=Person(
                    greeting="Hello?",
                    reply_to_opening=_literal(opening or "Okay, go ahead."),
                    facts=facts,
                ),
                source={
                    "dataset": "multidogo",
                    "conversation_id": conversation_id,
                    "slots": slots,
                },
            )
        )
    return scenarios
