"""Rule-based extraction of one post-call field from what the callee said.

The text is speech as a transcriber writes it: lower case, numbers in words,
identifiers spelled out, e-mail addresses read aloud. Every extractor returns the
normalized value (JSON types only), the span of text it rests on and a confidence
between 0 and 1, or None when the text holds no usable value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import phonenumbers
from dateutil import parser as date_parser
from rapidfuzz import fuzz
from text_to_num import alpha2digit

from callfleet.campaigns.settings import FieldType, PostCallField


@dataclass(frozen=True, slots=True)
class ExtractedValue:
    value: Any
    raw: str
    confidence: float


@dataclass(slots=True)
class FieldDetail:
    """An extracted value with the turn it came from, as the analysis keeps it."""

    value: Any
    raw: str
    confidence: float
    turn: int | None
    source: str  # answer | transcript | llm


# --- tokens ------------------------------------------------------------------

_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")

_DIGIT_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_TEEN_WORDS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
_TENS_WORDS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}
_NATO = {
    "alpha": "a",
    "alfa": "a",
    "bravo": "b",
    "charlie": "c",
    "delta": "d",
    "echo": "e",
    "foxtrot": "f",
    "golf": "g",
    "hotel": "h",
    "india": "i",
    "juliet": "j",
    "juliett": "j",
    "kilo": "k",
    "lima": "l",
    "mike": "m",
    "november": "n",
    "oscar": "o",
    "papa": "p",
    "quebec": "q",
    "romeo": "r",
    "sierra": "s",
    "tango": "t",
    "uniform": "u",
    "victor": "v",
    "whiskey": "w",
    "whisky": "w",
    "xray": "x",
    "yankee": "y",
    "zulu": "z",
}
_REPEAT_WORDS = {"double": 2, "triple": 3}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(slots=True)
class _Token:
    text: str  # lower case, digit words already turned into digits
    start: int
    end: int
    spelled: bool = False  # came from a NATO word or a single spoken letter


def _tokens(text: str) -> list[_Token]:
    return [
        _Token(m.group().lower(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)
    ]


def _spoken_digits(tokens: list[_Token], *, nato: bool) -> list[_Token]:
    """Turn spoken digits ("two oh one", "double five", "fifty two") into digit
    tokens, keeping each token's place in the text for evidence."""
    out: list[_Token] = []
    repeat = 1
    for i, token in enumerate(tokens):
        word = token.text
        if word in _REPEAT_WORDS and i + 1 < len(tokens):
            repeat = _REPEAT_WORDS[word]
            continue
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        prev_is_digit = bool(out) and out[-1].text.isdigit()
        digit: str | None = None
        if word in _DIGIT_WORDS:
            if out and out[-1].text.endswith("0") and tokens[i - 1].text in _TENS_WORDS:
                # "fifty two": fold into the tens digit already written
                out[-1] = _Token(
                    out[-1].text[:-1] + _DIGIT_WORDS[word], out[-1].start, token.end
                )
                continue
            digit = _DIGIT_WORDS[word]
        elif word == "oh" and (prev_is_digit or nxt in _DIGIT_WORDS or nxt.isdigit()):
            digit = "0"
        elif word in _TEEN_WORDS:
            digit = _TEEN_WORDS[word]
        elif word in _TENS_WORDS:
            digit = _TENS_WORDS[word] + "0"
        elif nato and word in _NATO:
            out.append(_Token(_NATO[word], token.start, token.end, spelled=True))
            continue
        if digit is not None:
            out.append(_Token(digit * repeat, token.start, token.end))
        elif repeat > 1 and len(word) == 1:
            out.append(_Token(word * repeat, token.start, token.end, spelled=True))
        else:
            out.append(token)
        repeat = 1
    return out


def _span(text: str, tokens: list[_Token]) -> str:
    return text[tokens[0].start : tokens[-1].end]


# Words that name a field when said just before its value ("my policy number
# is ..."); a value right after another field's cue word is not ours.
_CUE_SYNONYMS = {
    "ssn": ("ssn", "social"),
    "social": ("ssn", "social"),
    "phone": ("phone", "mobile", "cell", "telephone"),
    "mobile": ("phone", "mobile", "cell"),
    "email": ("email", "mail", "e-mail"),
    "brand": ("brand", "make", "maker"),
    "make": ("brand", "make", "maker"),
    "dob": ("dob", "birth", "born"),
    "birth": ("dob", "birth", "born"),
    "zip": ("zip", "postal"),
}
_GENERIC_NAME_WORDS = {"id", "number", "no", "num", "nbr", "code", "the", "of"}
_ALL_CUES = _words(
    "policy claim member account ssn social phone mobile cell email mail zip "
    "order case reference confirmation invoice tax npi group name dob birth"
)


def cue_words(field: PostCallField) -> set[str]:
    words = {w for w in field.name.lower().split("_") if w}
    words -= _GENERIC_NAME_WORDS
    cues = set(words)
    for word in words:
        cues.update(_CUE_SYNONYMS.get(word, ()))
    return cues


def _last_cue_index(tokens: list[_Token], cues: set[str]) -> int | None:
    found = None
    for i, token in enumerate(tokens):
        if token.text in cues:
            found = i
    return found


# --- identifiers -------------------------------------------------------------

_ID_STOPWORDS = _words(
    "a i am an and are as at be but by dob for got had has hey hi id in is it its "
    "me my no not nbr num of oh ok on or our per so ssn the to uh um was we yes "
    "yep you hmm yea yah ya mhm that this sure"
)
_DIGITS_ONLY_HINTS = ("ssn", "last4", "last_4", "last_four", "pin", "zip", "digits")


def _digits_only(field: PostCallField) -> bool:
    name = field.name.lower()
    return any(hint in name for hint in _DIGITS_ONLY_HINTS) or (
        "digits" in field.description.lower()
    )


def _is_id_part(tokens: list[_Token], i: int, digits_only: bool) -> bool:
    word = tokens[i].text
    if word.isdigit():
        return True
    if digits_only:
        return False
    if any(c.isdigit() for c in word):
        return True
    if tokens[i].spelled:
        return True
    if word in ("a", "i"):
        # a lone "a" or "i" is an article or pronoun unless spelled among letters
        neighbours = [tokens[j].text for j in (i - 1, i + 1) if 0 <= j < len(tokens)]
        return any(
            len(n) == 1 and n.isalpha() and n not in ("a", "i") for n in neighbours
        )
    return len(word) <= 3 and word not in _ID_STOPWORDS


def _chunks(tokens: list[_Token], digits_only: bool) -> list[tuple[int, int]]:
    """Maximal runs of identifier-like tokens, as (first, last + 1) indexes."""
    runs: list[tuple[int, int]] = []
    start = None
    for i in range(len(tokens)):
        if _is_id_part(tokens, i, digits_only):
            if start is None:
                start = i
        elif start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(tokens)))
    return runs


def _pick_chunk(
    tokens: list[_Token], chunks: list[tuple[int, int]], cues: set[str]
) -> tuple[tuple[int, int] | None, float]:
    cue_at = _last_cue_index(tokens, cues)
    if cue_at is not None:
        for chunk in chunks:
            if chunk[0] > cue_at:
                return chunk, 0.9
    other_cues = _ALL_CUES - cues
    free = [
        c
        for c in chunks
        if not any(t.text in other_cues for t in tokens[max(0, c[0] - 3) : c[0]])
    ]
    candidates = free or chunks
    if not candidates:
        return None, 0.0
    best = max(candidates, key=lambda c: sum(len(t.text) for t in tokens[c[0] : c[1]]))
    return best, 0.85 if len(candidates) == 1 else 0.6


def _extract_identifier(
    field: PostCallField, text: str, **_: Any
) -> ExtractedValue | None:
    tokens = _spoken_digits(_tokens(text), nato=True)
    digits_only = _digits_only(field)
    chunks = [
        c
        for c in _chunks(tokens, digits_only)
        if any(ch.isdigit() for t in tokens[c[0] : c[1]] for ch in t.text)
        or sum(1 for t in tokens[c[0] : c[1]] if t.spelled or len(t.text) == 1) >= 2
    ]
    chunk, confidence = _pick_chunk(tokens, chunks, cue_words(field))
    if chunk is None:
        return None
    parts = tokens[chunk[0] : chunk[1]]
    value = "".join(t.text for t in parts).upper()
    if not any(c.isdigit() for c in value):
        confidence = min(confidence, 0.5)
    return ExtractedValue(value, _span(text, parts), confidence)


# --- phone -------------------------------------------------------------------


def _extract_phone(
    field: PostCallField, text: str, *, region: str = "US", **_: Any
) -> ExtractedValue | None:
    tokens = _spoken_digits(_tokens(text), nato=False)
    plus = text.lstrip().startswith("+")
    runs: list[list[_Token]] = []
    current: list[_Token] = []
    for token in tokens:
        if token.text.isdigit():
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)

    cue_at = _last_cue_index(tokens, cue_words(field) | {"phone", "number"})
    if cue_at is not None:
        after = tokens[cue_at].end
        runs.sort(key=lambda run: run[0].start < after)
    for run in runs:
        digits = "".join(t.text for t in run)
        candidate = ("+" if plus and run is runs[0] else "") + digits
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(parsed):
            valid = phonenumbers.is_valid_number(parsed)
            e164 = phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.E164
            )
            # 555-01xx numbers are reserved for fiction and never "valid", yet
            # they are what test data and demos use.
            return ExtractedValue(e164, _span(text, run), 0.95 if valid else 0.8)
    return None


# --- email -------------------------------------------------------------------

_TLDS = ("com", "net", "org", "edu", "gov", "io", "co", "us", "in", "uk", "info", "biz")
_SPOKEN_EMAIL = [
    (re.compile(r"\s+at\s+the\s+rate\s+(?:of\s+)?", re.I), " @ "),
    (re.compile(r"\s+(?:at|@)\s+", re.I), " @ "),
    (re.compile(r"\s*\b(?:dot|period|point)\b\s*", re.I), "."),
    (re.compile(r"\s*\bunderscore\b\s*", re.I), "_"),
    (re.compile(r"\s*\b(?:dash|hyphen)\b\s*", re.I), "-"),
]
_EMAIL_RE = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$")
_RUN_TOGETHER_EMAIL = re.compile(
    r"^([a-z0-9._%+-]+)at([a-z0-9-]+?)\.?(" + "|".join(_TLDS) + r")$"
)
_EMAIL_FILLER = {"my", "email", "e", "mail", "id", "is", "its", "it's", "sure", "yes"}


def _split_tld(domain: str) -> str:
    if "." in domain:
        return domain
    for tld in _TLDS:
        if domain.endswith(tld) and len(domain) > len(tld) + 1:
            return f"{domain[: -len(tld)]}.{tld}"
    return domain


def _extract_email(field: PostCallField, text: str, **_: Any) -> ExtractedValue | None:
    spoken = f" {text.strip().lower()} "
    for pattern, replacement in _SPOKEN_EMAIL:
        spoken = pattern.sub(replacement, spoken)
    words = spoken.split()

    if "@" in words:
        at = words.index("@")
        local_words = []
        for word in reversed(words[:at]):
            # letters spelled one by one belong together: "j o h n at ..."
            if local_words and not (len(word) == 1 and len(local_words[-1]) == 1):
                break
            if word in _EMAIL_FILLER:
                break
            local_words.append(word)
        domain_words = []
        for word in words[at + 1 :]:
            if not re.fullmatch(r"[a-z0-9.-]+", word):
                break
            domain_words.append(word)
            if word.rsplit(".", 1)[-1] in _TLDS and "." in word:
                break
            if word in _TLDS:
                break
        local = "".join(reversed(local_words)).strip(".")
        domain = ".".join(w.strip(".") for w in domain_words if w.strip("."))
        address = f"{local}@{_split_tld(domain)}"
        if _EMAIL_RE.match(address):
            raw = _raw_email_span(text, local_words, domain_words)
            return ExtractedValue(address, raw, 0.9)
    for word in words:
        if "@" in word and _EMAIL_RE.match(word.strip(".")):
            return ExtractedValue(word.strip("."), word, 0.95)
        match = _RUN_TOGETHER_EMAIL.match(word)
        if match:
            address = f"{match[1]}@{match[2]}.{match[3]}"
            if _EMAIL_RE.match(address):
                return ExtractedValue(address, word, 0.6)
    return None


def _raw_email_span(text: str, local_words: list[str], domain_words: list[str]) -> str:
    lowered = text.lower()
    first = local_words[-1] if local_words else ""
    start = lowered.find(first.split(".")[0]) if first else 0
    last = domain_words[-1].split(".")[-1] if domain_words else ""
    end = lowered.rfind(last) + len(last) if last else len(text)
    if start < 0 or end <= start:
        return text.strip()
    return text[start:end]


# --- numbers and money -------------------------------------------------------

_NUMBER_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?!\w)")
_SCALE_RE = re.compile(
    r"(\d+(?:\.\d+)?)\s*(k|thousand|grand|m|mm|million|bn|billion)\b", re.I
)
_SCALES = {
    "k": 1e3,
    "thousand": 1e3,
    "grand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "million": 1e6,
    "bn": 1e9,
    "billion": 1e9,
}
_A_SCALE_RE = re.compile(r"\b(?:a|an)\s+(hundred|thousand|million|billion)\b", re.I)
_THOUSANDS_SEP_RE = re.compile(r"(?<=\d),(?=\d{3}\b)")


def _numeric_text(text: str) -> str:
    """Text with numbers in digits: "a hundred and twenty" -> "120",
    "$1,234" -> "$1234", "1.2k" -> "1200"."""
    spoken = _A_SCALE_RE.sub(r"one \1", text.lower())
    spoken = _THOUSANDS_SEP_RE.sub("", spoken.replace("-", " "))
    # scale words after digits first: the converter reads "2 million" as two numbers
    spoken = _SCALE_RE.sub(_scaled, spoken)
    return _SCALE_RE.sub(_scaled, alpha2digit(spoken, "en", threshold=0))


def _scaled(match: re.Match[str]) -> str:
    return _format_number(float(match[1]) * _SCALES[match[2].lower()])


def _format_number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.6f}".rstrip("0")


def _numbers(text: str) -> list[re.Match[str]]:
    return list(_NUMBER_RE.finditer(text))


def _between(text: str, left: re.Match[str], right: re.Match[str]) -> str:
    return text[left.end() : right.start()].strip()


_YEAR_RE = re.compile(r"(?<![\w.])(1[89]\d\d|20\d\d)(?![\w.])")


def _extract_integer(
    field: PostCallField, text: str, **_: Any
) -> ExtractedValue | None:
    converted = _YEAR_PAIR_RE.sub(r"\1\2", _numeric_text(text))
    if "year" in field.name.lower():
        # "bmw x 5, made in 2016": of several numbers, the year is the one wanted
        years = list(_YEAR_RE.finditer(converted))
        if years:
            return ExtractedValue(int(years[-1][1]), years[-1][0], 0.9)
    found = _numbers(converted)
    if not found:
        return None
    first = found[0]
    if (
        len(found) >= 2
        and all(len(m[1]) == 1 for m in found)
        and not any(_between(converted, a, b) for a, b in pairwise(found))
    ):
        digits = "".join(m[1] for m in found)  # "two five" -> 25
        return ExtractedValue(int(digits), text.strip(), 0.7)
    value = float(first[1])
    if value != int(value):
        return None
    return ExtractedValue(int(value), first[0], 0.9 if len(found) == 1 else 0.7)


def _extract_number(field: PostCallField, text: str, **_: Any) -> ExtractedValue | None:
    converted = _numeric_text(text)
    found = _numbers(converted)
    if not found:
        return None
    value = float(found[0][1])
    if value == int(value):
        value = int(value)
    return ExtractedValue(value, found[0][0], 0.9 if len(found) == 1 else 0.7)


_CURRENCY_AFTER = re.compile(r"^\s*(dollars?|bucks?|usd|euros?|eur|pounds?)\b", re.I)
_CENTS_AFTER = re.compile(r"^\s*cents?\b", re.I)


def _extract_money(field: PostCallField, text: str, **_: Any) -> ExtractedValue | None:
    converted = _numeric_text(text)
    found = _numbers(converted)
    if not found:
        return None

    first = found[0]
    amount = float(first[1])
    rest = converted[first.end() :]
    confidence = 0.9
    if _CENTS_AFTER.match(rest):
        amount /= 100
    elif len(found) >= 2:
        second = found[1]
        gap = _between(converted, first, second)
        gap_is_currency = _CURRENCY_AFTER.fullmatch(gap) or re.fullmatch(
            r"(dollars?|bucks?)\s+and", gap, re.I
        )
        cents_follow = _CENTS_AFTER.match(converted[second.end() :])
        whole = "." not in first[1] and float(second[1]) < 100
        if whole and (cents_follow or (gap_is_currency and len(second[1]) == 2)):
            amount += float(second[1]) / 100
        elif whole and not gap and len(second[1]) == 2 and amount < 1000:
            # "twelve fifty" said of money is 12.50
            amount += float(second[1]) / 100
            confidence = 0.75
        else:
            confidence = 0.7
    return ExtractedValue(round(amount, 2), text.strip(), confidence)


# --- yes / no ----------------------------------------------------------------

_UNSURE_RE = re.compile(
    r"\b(not sure|no idea|don'?t know|dunno|maybe|not certain|can'?t say|"
    r"no clue|i'?m unsure)\b",
    re.I,
)
_YES_NO_RE = re.compile(
    r"\b(?P<no>not (?:correct|right|true|really|at all)|that'?s wrong|incorrect|"
    r"nope|nah|no(?! problem| worries)|negative|never|false|wrong|"
    r"(?:do|does|did|is|was|has|have|are|were)n'?t|(?:i )?don'?t|it'?s not)\b"
    r"|\b(?P<yes>yes|yeah|yep|yup|yah|ya|sure|correct|right|affirmative|"
    r"absolutely|definitely|certainly|of course|indeed|true|ok(?:ay)?|uh huh|"
    r"uh-huh|mhm|it is|i do|it does|it was|no problem|no worries)\b",
    re.I,
)


def _extract_boolean(
    field: PostCallField, text: str, **_: Any
) -> ExtractedValue | None:
    if _UNSURE_RE.search(text):
        return None
    match = _YES_NO_RE.search(text)
    if match is None:
        return None
    return ExtractedValue(match.lastgroup == "yes", match[0], 0.9)


# --- dates -------------------------------------------------------------------

_YEAR_PAIR_RE = re.compile(r"\b(1[89]|20) (\d\d)\b")
_ORDINAL_SUFFIX_RE = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b")
_RELATIVE_RE = re.compile(
    r"\b(?:(?P<word>today|yesterday|tomorrow|day before yesterday)"
    r"|(?P<n>\d+) days? ago)\b",
    re.I,
)
_DEFAULT_A = datetime(2000, 1, 1)
_DEFAULT_B = datetime(2004, 2, 2)  # differs from A in every part, leap year too


def _extract_date(
    field: PostCallField, text: str, *, call_date: date | None = None, **_: Any
) -> ExtractedValue | None:
    converted = _numeric_text(text)
    converted = _YEAR_PAIR_RE.sub(r"\1\2", converted)

    relative = _RELATIVE_RE.search(converted)
    if relative and call_date is not None:
        offsets = {
            "today": 0,
            "yesterday": -1,
            "tomorrow": 1,
            "day before yesterday": -2,
        }
        word = relative["word"]
        days = offsets[word.lower()] if word else -int(relative["n"])
        return ExtractedValue(
            (call_date + timedelta(days=days)).isoformat(), relative[0], 0.85
        )

    cleaned = _ORDINAL_SUFFIX_RE.sub(r"\1", converted)
    try:
        a = date_parser.parse(cleaned, fuzzy=True, default=_DEFAULT_A)
        b = date_parser.parse(cleaned, fuzzy=True, default=_DEFAULT_B)
    except (ValueError, OverflowError):
        return None
    has_day, has_month, has_year = a.day == b.day, a.month == b.month, a.year == b.year
    if not (has_day and has_month):
        return None
    year = a.year if has_year else (call_date or date.today()).year
    try:
        value = date(year, a.month, a.day)
    except ValueError:
        return None
    return ExtractedValue(value.isoformat(), text.strip(), 0.9 if has_year else 0.75)


# --- enums -------------------------------------------------------------------


def _enum_words(value: str) -> str:
    return re.sub(r"[_\-]+", " ", value).lower().strip()


def _extract_enum(field: PostCallField, text: str, **_: Any) -> ExtractedValue | None:
    values = field.values or []
    lowered = " ".join(t.text for t in _tokens(text))
    words = set(lowered.split())

    best: tuple[int, str] | None = None
    for value in values:
        value_words = _enum_words(value).split()
        if value_words and all(w in words for w in value_words):
            negated = re.search(rf"\bnot\s+{re.escape(value_words[0])}\b", lowered)
            if not negated and (best is None or len(value_words) > best[0]):
                best = (len(value_words), value)
    if best is not None:
        return ExtractedValue(best[1], text.strip(), 0.95)

    # Misheard or misspelt values ("denyed"): the closest value word by word.
    best_fuzzy: tuple[float, str] | None = None
    spoken_words = lowered.split()
    for value in values:
        value_words = _enum_words(value)
        size = len(value_words.split())
        windows = [
            " ".join(spoken_words[i : i + size])
            for i in range(max(1, len(spoken_words) - size + 1))
        ]
        score = max(fuzz.ratio(window, value_words) for window in windows)
        if score >= 80 and (best_fuzzy is None or score > best_fuzzy[0]):
            best_fuzzy = (score, value)
    if best_fuzzy is None:
        return None
    score, value = best_fuzzy
    return ExtractedValue(value, text.strip(), round(score / 100 * 0.8, 2))


# --- free text and names -----------------------------------------------------

_NAME_MARKERS_RE = re.compile(
    r"\b(?:my name is|name is|my name's|my name|name|i am|i'm|im|this is|"
    r"it's|it is|its|call me)\b\s*",
    re.I,
)
_LEADING_FILLER_RE = re.compile(
    r"^(?:(?:yes|yeah|yep|sure|ok|okay|well|um|uh|hi|hello|so|oh|right|"
    r"of course|the|a|it's|it is|its|that's|that is|is|was)\b[\s,.!]*)+",
    re.I,
)
_NAME_STOP = _words(
    "and ssn social policy claim mobile phone email number my dob from calling "
    "here please thanks thank speaking"
)
_STRING_STOP_RE = re.compile(r"\s*(?:\band\b|,|;|\.(?:\s|$))", re.I)


def is_name_field(field: PostCallField) -> bool:
    return "name" in field.name.lower() or "name" in field.description.lower()


def _extract_name(field: PostCallField, text: str) -> ExtractedValue | None:
    markers = list(_NAME_MARKERS_RE.finditer(text))
    after_marker = text[markers[-1].end() :] if markers else text
    rest = _LEADING_FILLER_RE.sub("", after_marker.lstrip(" ,.:"))
    offset = len(text) - len(rest)

    name_tokens: list[_Token] = []
    for match in _TOKEN_RE.finditer(rest):
        word = match.group()
        if word.lower() in _NAME_STOP or any(c.isdigit() for c in word):
            break
        name_tokens.append(_Token(word, match.start() + offset, match.end() + offset))
        if len(name_tokens) == 4:
            break
    if not name_tokens:
        return None
    raw = _span(text, name_tokens)
    value = raw.title() if raw == raw.lower() else raw
    confidence = 0.9 if markers or len(name_tokens) <= 3 else 0.6
    return ExtractedValue(value, raw, confidence)


def _extract_string(field: PostCallField, text: str, **_: Any) -> ExtractedValue | None:
    if not text.strip():
        return None
    if is_name_field(field):
        return _extract_name(field, text)

    tokens = _tokens(text)
    own = cue_words(field)
    cue_at = _last_cue_index(tokens, own)
    start = tokens[cue_at].end if cue_at is not None else 0
    segment = re.sub(r"^\s*(?:is|was|are|:)?\s*", "", text[start:])
    segment = _LEADING_FILLER_RE.sub("", segment.strip())
    # the answer ends where the callee moves on to something else ("bmw and the
    # year is 2016", "mahindra model tuv 300")
    stop = _STRING_STOP_RE.search(segment)
    for match in _TOKEN_RE.finditer(segment):
        word = match.group().lower()
        if match.start() > 0 and word in _STRING_CUES and word not in own:
            if stop is None or match.start() < stop.start():
                stop = match
            break
    if stop is not None and stop.start() > 0:
        segment = segment[: stop.start()]
    segment = segment.strip(" ,.;:!?")
    if not segment:
        return None
    return ExtractedValue(segment, segment, 0.8 if cue_at is not None else 0.7)


_STRING_CUES = _ALL_CUES | {"year", "model", "make", "maker", "brand", "color"}


# --- entry points ------------------------------------------------------------

_EXTRACTORS: dict[FieldType, Callable[..., ExtractedValue | None]] = {
    FieldType.STRING: _extract_string,
    FieldType.INTEGER: _extract_integer,
    FieldType.NUMBER: _extract_number,
    FieldType.MONEY: _extract_money,
    FieldType.BOOLEAN: _extract_boolean,
    FieldType.DATE: _extract_date,
    FieldType.ENUM: _extract_enum,
    FieldType.PHONE: _extract_phone,
    FieldType.EMAIL: _extract_email,
    FieldType.IDENTIFIER: _extract_identifier,
}


def extract_value(
    field: PostCallField,
    text: str,
    *,
    call_date: date | None = None,
    region: str = "US",
) -> ExtractedValue | None:
    """The field's value in ``text``, normalized for its type, or None.

    ``call_date`` anchors relative dates ("yesterday") and dates said without a
    year; ``region`` is the default country of phone numbers said without one.
    """
    if not text or not text.strip():
        return None
    extractor = _EXTRACTORS[field.type]
    sentences = [s for s in _SENTENCE_BREAK_RE.split(text) if s.strip()]
    if len(sentences) <= 1:
        return extractor(field, text, call_date=call_date, region=region)
    # A value never runs across sentences ("pvx 7521. pvx 7521" is said twice,
    # not one identifier); the surest reading wins, the earliest on a tie.
    best: ExtractedValue | None = None
    for sentence in sentences:
        found = extractor(field, sentence, call_date=call_date, region=region)
        if found is not None and (best is None or found.confidence > best.confidence):
            best = found
    return best


_SENTENCE_BREAK_RE = re.compile(r"(?<=\w\w)[.!?;]\s+")


def normalize_value(field: PostCallField, value: Any) -> Any:
    """Bring a value given by someone else (a label, an API client) to the form
    ``extract_value`` returns, so that the two compare equal when they agree."""
    if value is None:
        return None
    if field.type is FieldType.STRING:
        text = " ".join(str(value).split())
        return text.casefold() if is_name_field(field) else text
    extracted = extract_value(field, str(value), call_date=date(2000, 1, 1))
    return None if extracted is None else extracted.value
