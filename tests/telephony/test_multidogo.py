import csv
from pathlib import Path

import pytest

from callfleet.campaigns.settings import FieldType
from callfleet.telephony.simulator import (
    MULTIDOGO_SLOT_FIELDS,
    load_multidogo,
    multidogo_fields,
)

DATA = Path(__file__).resolve().parents[3] / "shared/data/multidogo/insurance-dev.tsv"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="MultiDoGO data not present")


@pytest.fixture(scope="module")
def scenarios():
    return load_multidogo(DATA)


def test_fields_cover_every_slot_with_a_question() -> None:
    fields = {f.name: f for f in multidogo_fields()}
    assert set(MULTIDOGO_SLOT_FIELDS.values()) == set(fields)
    assert fields["car_year"].type is FieldType.INTEGER
    assert fields["email"].type is FieldType.EMAIL
    assert fields["phone"].type is FieldType.PHONE
    assert fields["ssn_last4"].type is FieldType.IDENTIFIER
    assert all(f.question.endswith("?") for f in fields.values())


@needs_data
def test_every_conversation_becomes_a_scenario(scenarios) -> None:
    assert len(scenarios) >= 200
    assert all(s.name.startswith("multidogo:") for s in scenarios)
    assert len({s.name for s in scenarios}) == len(scenarios)
    assert sum(1 for s in scenarios if s.person.facts) >= 200


@needs_data
def test_facts_come_from_slot_labels_and_answers_are_real_utterances(
    scenarios,
) -> None:
    with open(DATA, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    utterances = {" ".join(r["utterance"].split()) for r in rows}
    first = next(
        s for s in scenarios if s.source["conversation_id"] == rows[0]["conversationId"]
    )

    facts = first.person.facts
    assert facts["name"].value == "raj prasad"
    assert facts["policy_id"].value == "pvx 752197308"
    assert facts["policy_id"].answer == "policy number pvx 752197308"
    assert facts["claim_id"].value == "lrx 603"
    assert first.source["slots"]["policyid"] == "pvx 752197308"
    for scenario in scenarios:
        for fact in scenario.person.facts.values():
            for part in (fact.answer or "").split(". "):
                assert part in utterances


@needs_data
def test_a_correction_wins(scenarios) -> None:
    corrected = [
        s
        for s in scenarios
        if "car_year" in s.person.facts
        and "wrong the year was 2012" in (s.person.facts["car_year"].answer or "")
    ]
    assert corrected and corrected[0].person.facts["car_year"].value == "2012"
