"""How the simulated callee understands the agent: normalizing values for
verification and matching a question to the fact it asks about."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

import jinja2
from dateutil import parser as date_parser
from rapidfuzz import fuzz

_env = jinja2.Environment(undefined=jinja2.ChainableUndefined, autoescape=False)
_ALNUM = re.compile(r"[^0-9a-z]+")
_WORD = re.compile(r"[a-z0-9']+")
_NUMERIC_DATE = re.compile(r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b")
_MONTH_DATE = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}"
    r"(?:st|nd|rd|th)?,?\s+\d{4}\b|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{4}\b",
    re.IGNORECASE,
)

_STOPWORD_TEXT = """
a an the is are was were be of for to in on at by with and or what whats what's can
could would you your i me my we our please tell give have has do does did may it this
that there their them us so just also know like need get about which how when who
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@functools.lru_cache(maxsize=4096)
def _compiled(source: str) -> jinja2.Template:
    return _env.from_string(source)


def render(source: str, context: dict[str, Any]) -> str:
    """Render a template; plain strings skip Jinja entirely."""
    if "{" not in source:
        return source
    return _compiled(source).render(**context).strip()


def normalize(text: str) -> str:
    """Letters and digits only, lower case: "ABC-123 45" -> "abc12345"."""
    return _ALNUM.sub("", text.lower())


def parse_date(text: str) -> date | None:
    """A date written in any common form, found inside ``text``."""
    for pattern in (_NUMERIC_DATE, _MONTH_DATE):
        match = pattern.search(text)
        if match:
            try:
                return date_parser.parse(match.group(0), fuzzy=True).date()
            except (ValueError, OverflowError):
                continue
    try:
        return date_parser.parse(text, fuzzy=True, default=_NO_DATE).date()
    except (ValueError, OverflowError):
        return None


_NO_DATE = date_parser.parse("1900-01-01")


def value_matches(expected: str, said: str, *, kind: str = "text") -> bool:
    """Whether ``said`` (a sentence) gives the ``expected`` value."""
    if kind == "date":
        wanted = parse_date(expected)
        got = parse_date(said)
        if wanted is not None and got is not None:
            return wanted == got
    wanted_norm = normalize(expected)
    return bool(wanted_norm) and wanted_norm in normalize(said)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOPWORDS}


class PhraseMatcher:
    """Finds which entry a sentence is about, by fuzzy matching its phrases.

    Each entry has phrases (e.g. a fact's name and aliases); a sentence matches
    the entry whose phrase is best contained in it (token-set similarity), with
    longer phrases winning ties so "phone number" beats "number".
    """

    def __init__(self, entries: dict[str, Iterable[str]], *, threshold: float = 80):
        self.threshold = threshold
        self._phrases: list[tuple[str, str]] = []
        for key, phrases in entries.items():
            seen: set[str] = set()
            for phrase in [key.replace("_", " "), *phrases]:
                cleaned = " ".join(words(phrase))
                if cleaned and cleaned not in seen:
                    seen.add(cleaned)
                    self._phrases.append((key, cleaned))

    def best(self, sentence: str) -> str | None:
        text = " ".join(words(sentence))
        if not text:
            return None
        best_key, best_score = None, 0.0
        for key, phrase in self._phrases:
            score = fuzz.token_set_ratio(phrase, text)
            if score < self.threshold:
                continue
            score += min(len(phrase), 40) / 100
            if score > best_score:
                best_key, best_score = key, score
        return best_key
