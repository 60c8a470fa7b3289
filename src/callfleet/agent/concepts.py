"""Understanding what the callee says: verification questions, do-not-call
requests, wrong numbers, closed offices, IVR menus. Patterns are compiled once
at import; everything here is cheap enough to run on every turn."""

from __future__ import annotations

import re
from dataclasses import dataclass

from callfleet.telephony.simulator.matching import PhraseMatcher, content_words


@dataclass(frozen=True, slots=True)
class Concept:
    name: str
    pattern: re.Pattern[str]
    keys: tuple[str, ...]


def _concept(name: str, pattern: str, *keys: str) -> Concept:
    return Concept(name, re.compile(pattern, re.IGNORECASE), keys)


# Order matters: the first concept whose pattern matches wins, so specific
# phrases ("member's name") come before general ones ("member id").
VERIFICATION_CONCEPTS: tuple[Concept, ...] = (
    _concept("agent_name", r"\byour name\b|who am i speaking|who is (this|calling)"),
    _concept(
        "patient_name",
        r"\b(patient|member|insured|subscriber|policy ?holder)'?s? (full )?name\b|"
        r"name of the (patient|member|insured)|name on the (policy|account)",
        "patient_name",
        "member_name",
        "insured_name",
        "full_name",
        "name",
    ),
    _concept(
        "date_of_birth",
        r"date of birth|birth ?date|\bdob\b|\bborn\b|birthday",
        "date_of_birth",
        "dob",
        "birth_date",
        "birthdate",
        "patient_dob",
        "member_dob",
    ),
    _concept(
        "member_id",
        r"\b(member|subscriber|insurance)\s*(id|number|#)|\bmember'?s id",
        "member_id",
        "subscriber_id",
        "memberid",
        "member_number",
        "insurance_id",
    ),
    _concept("npi", r"\bnpi\b|national provider", "npi", "provider_npi", "npi_number"),
    _concept(
        "tax_id",
        r"\btax\s*(id|identification)|\btin\b|\bein\b|employer identification",
        "tax_id",
        "tin",
        "ein",
        "tax_id_number",
    ),
    _concept("group_number", r"\bgroup\s*(number|id|#)", "group_number", "group_id"),
    _concept(
        "policy_number",
        r"\bpolicy\s*(number|id|#)",
        "policy_number",
        "policy_id",
        "policyid",
    ),
    _concept(
        "claim_number",
        r"\bclaim\s*(number|id|#)",
        "claim_number",
        "claim_id",
        "claimid",
    ),
    _concept(
        "ssn",
        r"social security|\bssn\b|last (four|4)",
        "ssn_last4",
        "ssn",
        "social_security_number",
    ),
    _concept(
        "date_of_service",
        r"date of service|service date|\bdos\b",
        "date_of_service",
        "service_date",
        "dos",
    ),
    _concept(
        "callback_number",
        r"call ?back number|phone number|telephone",
        "callback_number",
        "phone",
        "phone_number",
    ),
    _concept("zip", r"\bzip\b|postal code", "zip", "zip_code", "postal_code"),
    _concept(
        "practice_name",
        r"\b(practice|office|provider|clinic)'?s? name|calling from|"
        r"which (office|practice)",
        "practice_name",
        "provider_name",
        "office_name",
        "clinic_name",
    ),
)

_REQUEST = re.compile(
    r"\?|\b(can|could|may) i (have|get)\b|\bwhat(?:'s| is| was)\b|\b(provide|verify|"
    r"confirm|give me|tell me|need|read me)\b",
    re.IGNORECASE,
)
DATA_REQUEST = re.compile(
    r"\b(can|could|may|would) (i|you) (have|get|give|provide|tell|confirm|verify|read)|"
    r"\b(i'?ll|i will|i) need (the|your)|\bplease (provide|give|confirm|verify)",
    re.IGNORECASE,
)
DO_NOT_CALL = re.compile(
    r"\b(do not|don'?t|never) call|stop calling|do not call list|not to be called|"
    r"(take|remove|put) (me|this number|us|it) (off|from|on)|"
    r"don'?t want (any more|more) calls",
    re.IGNORECASE,
)
WRONG_NUMBER = re.compile(
    r"wrong number|no ?(one|body) (here )?by that name|(don'?t|do not) know (any|who)|"
    r"no .{1,20} (lives|works) here",
    re.IGNORECASE,
)
AFTER_HOURS = re.compile(
    r"\b(office|we|clinic|practice) (is|are) (now |currently )?closed\b|"
    r"outside (of )?(our )?(normal |regular )?(business|office) hours|"
    r"call back during (business|office|normal) hours",
    re.IGNORECASE,
)
REFUSAL = re.compile(
    r"\b(can'?t|cannot|can not|unable to|not able to|won'?t) (release|give|share|"
    r"provide|disclose|discuss)",
    re.IGNORECASE,
)
VERIFIED = re.compile(
    r"\b(verified|that matches|matches our records|you'?re all set|that checks out|"
    r"thank you|thanks|perfect|great|got it|okay|ok)\b",
    re.IGNORECASE,
)
MISMATCH = re.compile(r"doesn'?t match|does not match|not match", re.IGNORECASE)
TRANSFER_OFFER = re.compile(
    r"\b(let me|i'?ll|i will|going to) (transfer|connect|put) you|transferring you|"
    r"\bplease hold\b|\bone moment\b|\bhold on\b",
    re.IGNORECASE,
)
TRANSFER_REQUEST = re.compile(
    r"\b(transfer|connect|put) me (to|with|through)|\b(speak|talk) (to|with) (a|an|"
    r"some) ?(real|live|actual)? (person|human|representative|agent|someone)",
    re.IGNORECASE,
)
GOODBYE = re.compile(r"\b(good ?bye|bye)\b", re.IGNORECASE)
NOT_KNOWN = re.compile(
    r"\b(don'?t|do not) (have|know)|\bnot sure\b|no information|\bunknown\b|"
    r"\bcan'?t find\b",
    re.IGNORECASE,
)
STILL_THERE = re.compile(r"are you (still )?there|\bhello\?", re.IGNORECASE)

_MENU_ITEM = (
    re.compile(
        r"(?:for|to|if)\s+([^.;,!?]+?),?\s+(?:please\s+)?press\s+(\d|star|pound|\*|#)",
        re.I,
    ),
    re.compile(r"press\s+(\d|star|pound|\*|#)\s+(?:for|to)\s+([^.;,!?]+)", re.I),
)
_KEYS = {"star": "*", "pound": "#"}
_OPERATOR = re.compile(
    r"representative|operator|agent|associate|someone|a person|customer service|"
    r"all other",
    re.IGNORECASE,
)


def is_request(text: str) -> bool:
    return bool(_REQUEST.search(text))


def requested_concept(
    text: str, fallback: PhraseMatcher | None = None
) -> tuple[str, tuple[str, ...]] | None:
    """The piece of data the callee asks for, with the input keys that hold it:
    ("date_of_birth", ("date_of_birth", "dob", ...)). None when not a request."""
    if not is_request(text):
        return None
    for concept in VERIFICATION_CONCEPTS:
        if concept.pattern.search(text):
            return concept.name, concept.keys
    if fallback is not None:
        key = fallback.best(text)
        if key is not None:
            return key, (key,)
    if "?" in text and DATA_REQUEST.search(text):
        return "unknown", ()
    return None


def menu_options(text: str) -> dict[str, str]:
    """IVR options heard in a prompt: digit -> what it is for."""
    options: dict[str, str] = {}
    for match in _MENU_ITEM[0].finditer(text):
        options.setdefault(
            _KEYS.get(match.group(2).lower(), match.group(2)), match.group(1)
        )
    for match in _MENU_ITEM[1].finditer(text):
        options.setdefault(
            _KEYS.get(match.group(1).lower(), match.group(1)), match.group(2)
        )
    return options


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def stems(text: str) -> set[str]:
    return {_stem(w) for w in content_words(text)}


def choose_menu_option(
    options: dict[str, str], goal: set[str], context: set[str], tried: set[str]
) -> str:
    """The digit whose label best matches the goal (weighted double) and the
    campaign's fields; else the operator option; else 0."""
    best, best_score = None, 0.0
    for digit, label in options.items():
        if digit in tried:
            continue
        words = stems(label)
        score = 2 * len(words & goal) + len(words & context)
        if score > best_score:
            best, best_score = digit, score
    if best is not None:
        return best
    for digit, label in options.items():
        if digit not in tried and _OPERATOR.search(label):
            return digit
    return "0"
