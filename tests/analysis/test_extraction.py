from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callfleet.analysis.extraction import ExtractedValue, extract_value, normalize_value
from callfleet.campaigns.settings import FieldType, PostCallField

CALL_DATE = date(2026, 1, 5)


def field(name: str, type_: str, **kwargs) -> PostCallField:
    return PostCallField(name=name, type=FieldType(type_), **kwargs)


def value_of(f: PostCallField, text: str):
    extracted = extract_value(f, text, call_date=CALL_DATE)
    return None if extracted is None else extracted.value


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("policy_id", "policy number pvx 752197308", "PVX752197308"),
        ("policy_id", "p v x 7 5 2 one nine seven", "PVX752197"),
        ("policy_id", "my policy number is PVX-752-197", "PVX752197"),
        ("policy_id", "alpha bravo two double five", "AB255"),
        ("policy_id", "policy no naj 53479278 and claim no nah 946", "NAJ53479278"),
        ("claim_id", "policy no naj 53479278 and claim no nah 946", "NAH946"),
        ("claim_id", "sure my policy number is thd 462514256 and my gju 875", "GJU875"),
        ("claim_id", "the claim number is btx 783 sorry for the wrong info", "BTX783"),
        ("ssn", "mani 4587", "4587"),
        ("ssn", "last 4 digits of the ssn 9632", "9632"),
        ("ssn", "okay so my ssn is 0022", "0022"),
        ("member_id", "it's seven fifty two oh one", "75201"),
    ],
)
def test_identifiers(name: str, text: str, expected: str) -> None:
    assert value_of(field(name, "identifier"), text) == expected


def test_identifier_evidence_is_the_span_said() -> None:
    extracted = extract_value(
        field("policy_id", "identifier"), "yes my policy number hfb 568975463"
    )
    assert extracted == ExtractedValue("HFB568975463", "hfb 568975463", 0.9)


def test_identifier_absent() -> None:
    assert value_of(field("policy_id", "identifier"), "i don't have it with me") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("raj prasad", "Raj Prasad"),
        ("mani 4587", "Mani"),
        ("sure sam i am olivia jacob", "Olivia Jacob"),
        ("name vinod chopra ssn 8473", "Vinod Chopra"),
        ("my name is hendry", "Hendry"),
        ("suhas killo and 5869", "Suhas Killo"),
        ("this is John McDonald", "John McDonald"),
        ("my complete details name sankari mobile no 2015550134", "Sankari"),
    ],
)
def test_names(text: str, expected: str) -> None:
    assert value_of(field("name", "string"), text) == expected


def test_string_after_its_cue_word() -> None:
    brand = field("car_brand", "string")
    assert value_of(brand, "maker is bmw and model is x 3 and year is 2012") == "bmw"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("john dot doe at example dot com", "john.doe@example.com"),
        ("user12345 at example com", "user12345@example.com"),
        ("user63653 at examplecom", "user63653@example.com"),
        ("user97817atexamplecom", "user97817@example.com"),
        ("sure its J O H N at gmail dot com", "john@gmail.com"),
        ("Mary_Ann@Example.org", "mary_ann@example.org"),
        ("mary underscore ann at example dot org", "mary_ann@example.org"),
    ],
)
def test_emails(text: str, expected: str) -> None:
    assert value_of(field("email", "email"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015550125", "+12015550125"),
        ("201 555 0174", "+12015550174"),
        ("(201) 555-0174", "+12015550174"),
        ("two zero one five five five zero one two three", "+12015550123"),
        ("christine 201 555 0174", "+12015550174"),
        ("+44 20 7946 0958", "+442079460958"),
        ("it is five five five", None),
    ],
)
def test_phones(text: str, expected: str | None) -> None:
    assert value_of(field("phone", "phone"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("one hundred twenty three dollars and fifty cents", 123.50),
        ("a hundred and twenty", 120.00),
        ("twelve fifty", 12.50),
        ("$1,234.56", 1234.56),
        ("1.2k", 1200.00),
        ("fifty cents", 0.50),
        ("they paid 45 dollars 20", 45.20),
        ("nothing was paid", None),
    ],
)
def test_money(text: str, expected: float | None) -> None:
    assert value_of(field("paid_amount", "money"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a hundred and twenty", 120),
        ("nineteen ninety nine", 1999),
        ("twenty twenty five", 2025),
        ("2015", 2015),
        ("just one", 1),
        ("three point five", None),
    ],
)
def test_integers(text: str, expected: int | None) -> None:
    assert value_of(field("count", "integer"), text) == expected


def test_numbers() -> None:
    number = field("rate", "number")
    assert value_of(number, "three point five percent") == 3.5
    assert value_of(number, "about 2 million") == 2_000_000


@given(st.integers(min_value=0, max_value=999_999))
def test_integer_digits_round_trip(n: int) -> None:
    assert value_of(field("count", "integer"), f"it is {n}") == n


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("March 3rd", "2026-03-03"),
        ("3/4/2025", "2025-03-04"),
        ("2025-03-04", "2025-03-04"),
        ("the fourth of march twenty twenty five", "2025-03-04"),
        ("it was on March 4, 2025", "2025-03-04"),
        ("yesterday", "2026-01-04"),
        ("three days ago", "2026-01-02"),
        ("no idea", None),
        ("2015", None),
    ],
)
def test_dates(text: str, expected: str | None) -> None:
    assert value_of(field("service_date", "date"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yeah", True),
        ("yes that's correct", True),
        ("that's correct", True),
        ("no problem, go ahead", True),
        ("nope", False),
        ("not really", False),
        ("that is not correct", False),
        ("it doesn't", False),
        ("I'm not sure", None),
        ("hmm", None),
    ],
)
def test_booleans(text: str, expected: bool | None) -> None:
    assert value_of(field("approved", "boolean"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it was paid", "paid"),
        ("it is in process right now", "in_process"),
        ("it got denyed", "denied"),
        ("not paid, it was denied", "denied"),
        ("no idea", None),
    ],
)
def test_enums(text: str, expected: str | None) -> None:
    status = field("claim_status", "enum", values=["paid", "denied", "in_process"])
    assert value_of(status, text) == expected


def test_empty_text() -> None:
    assert extract_value(field("name", "string"), "   ") is None


def test_normalize_value_matches_extraction() -> None:
    email = field("email", "email")
    assert normalize_value(email, "user63653 at examplecom") == "user63653@example.com"
    policy = field("policy_id", "identifier")
    assert normalize_value(policy, "pvx 752197308") == "PVX752197308"
    name = field("name", "string")
    assert normalize_value(name, "Raj  Prasad") == normalize_value(name, "raj prasad")
