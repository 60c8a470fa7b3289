"""Prosper's call categories, subcategories and resolution for one attempt.

The enums are Prosper Voice's wire values, copied from its published spec so that
a Prosper client reads them unchanged. A target's ``category`` takes a value of
either call category enum (payor or patient), as Prosper's own targets do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from callfleet.campaigns.settings import Disposition, PostCallField
from callfleet.conversation import ConversationResult, Role
from callfleet.telephony.base import AnsweredBy, EndedBy


class PayorCallCategory(StrEnum):
    GOOD = "GOOD"
    NO_RESPONSE = "NO_RESPONSE"
    TRANSFER = "TRANSFER"
    TRANSFER_FAILED = "TRANSFER_FAILED"
    VOICEMAIL = "VOICEMAIL"
    SERVICE_NOT_AVAILABLE = "SERVICE_NOT_AVAILABLE"
    HUMAN_ONLY = "HUMAN_ONLY"
    AFTER_HOURS = "AFTER_HOURS"
    CLOSED_FOR_HOLIDAYS = "CLOSED_FOR_HOLIDAYS"
    IVR_LOOP = "IVR_LOOP"
    INPUT_DATA_ISSUE = "INPUT_DATA_ISSUE"
    WRONG_PHONE_NUMBER = "WRONG_PHONE_NUMBER"
    NOT_FOUND = "NOT_FOUND"
    UNPROCESSABLE_BY_PHONE = "UNPROCESSABLE_BY_PHONE"
    DISCONNECTED = "DISCONNECTED"
    NOT_ALL_DATA_POINTS_RETRIEVED = "NOT_ALL_DATA_POINTS_RETRIEVED"
    MEMBER_CONSENT_REQUIRED = "MEMBER_CONSENT_REQUIRED"
    SLA_EXPIRED = "SLA_EXPIRED"
    PAYOR_NOT_SUPPORTED = "PAYOR_NOT_SUPPORTED"
    NO_OPERATING_HOURS = "NO_OPERATING_HOURS"


class PatientCallCategory(StrEnum):
    GOOD = "GOOD"
    NO_RESPONSE = "NO_RESPONSE"
    TRANSFER = "TRANSFER"
    TRANSFER_FAILED = "TRANSFER_FAILED"
    VOICEMAIL = "VOICEMAIL"
    SERVICE_NOT_AVAILABLE = "SERVICE_NOT_AVAILABLE"
    HUMAN_ONLY = "HUMAN_ONLY"
    CALLBACK_REQUESTED = "CALLBACK_REQUESTED"
    MANAGER_REQUESTED = "MANAGER_REQUESTED"
    DISCONNECTED = "DISCONNECTED"
    DNC_REQUESTED = "DNC_REQUESTED"
    WRONG_USER = "WRONG_USER"
    NOT_INTERESTED_RIGHT_NOW = "NOT_INTERESTED_RIGHT_NOW"
    BLACKLISTED_PHONE = "BLACKLISTED_PHONE"


class IVRLoopSubCategory(StrEnum):
    NOT_RECOGNIZE_DATA = "NOT_RECOGNIZE_DATA"
    NOT_FOUND = "NOT_FOUND"
    LONG_WAITING_PERIOD = "LONG_WAITING_PERIOD"
    BAD_INTERACTION_WITH_IVR = "BAD_INTERACTION_WITH_IVR"
    IVR_ONLY_NUMBER = "IVR_ONLY_NUMBER"
    VOICEMAIL = "VOICEMAIL"
    CALLBACK_OFFERED = "CALLBACK_OFFERED"


class NotFoundSubCategory(StrEnum):
    PROVIDER = "PROVIDER"
    MEMBER = "MEMBER"
    FACILITY = "FACILITY"
    REQUEST = "REQUEST"
    OTHER = "OTHER"


class TransferSubCategory(StrEnum):
    HUMAN_REQUESTED = "HUMAN_REQUESTED"
    INTEGRATION_ERROR = "INTEGRATION_ERROR"
    INSURANCE_REJECTED = "INSURANCE_REJECTED"
    TRANSFER_REQUESTED = "TRANSFER_REQUESTED"
    NATURAL_TRANSFER = "NATURAL_TRANSFER"


class ServiceNotAvailableSubCategory(StrEnum):
    PHONE_NUMBER_NOT_AVAILABLE = "PHONE_NUMBER_NOT_AVAILABLE"
    CLOGGED_SERVICE = "CLOGGED_SERVICE"
    TECHNICAL_ISSUE = "TECHNICAL_ISSUE"
    OTHER = "OTHER"


class InputDataIssueSubCategory(StrEnum):
    MISSING_INFORMATION = "MISSING_INFORMATION"
    INCORRECT_INFORMATION = "INCORRECT_INFORMATION"


class HumanOnlySubcategory(StrEnum):
    STARTING_CALL = "STARTING_CALL"
    MID_CALL = "MID_CALL"


class Resolution(StrEnum):
    """Prosper's ``CampaignTargetPayorResolution``."""

    RETRIEVED = "retrieved"
    NOT_RETRIEVED = "not_retrieved"


class Outcome(StrEnum):
    """A short, stable, machine-readable account of how the attempt ended."""

    DATA_RETRIEVED = "data_retrieved"
    COMPLETED = "completed"  # a conversation, with no fields to collect
    DATA_MISSING = "data_missing"
    DISCONNECTED = "disconnected"
    VOICEMAIL_LEFT = "voicemail_left"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    DECLINED = "declined"
    INVALID_NUMBER = "invalid_number"
    CAPACITY = "capacity"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    DNC_REQUESTED = "dnc_requested"
    WRONG_NUMBER = "wrong_number"
    AFTER_HOURS = "after_hours"
    TRANSFERRED = "transferred"
    IVR_LOOP = "ivr_loop"
    HUMAN_ONLY = "human_only"
    VERIFICATION_FAILED = "verification_failed"
    CONSENT_REQUIRED = "consent_required"
    NOT_FOUND = "not_found"


CallCategory = PayorCallCategory | PatientCallCategory


@dataclass(frozen=True, slots=True)
class Categorization:
    category: CallCategory
    subcategory: StrEnum | None
    resolution: Resolution
    outcome: Outcome


# Callee phrases that explain why data could not be had. Checked only when the
# data was not retrieved, so a polite "no problem" never turns a good call bad.
_HUMAN_ONLY_RE = re.compile(
    r"\b(real person|human being|talk to a human|speak to a human|a human|"
    r"(?:a |to a )?robot|not talking to a (?:machine|computer|bot)|"
    r"don'?t talk to (?:machines|bots|computers))\b",
    re.I,
)
_MISMATCH_RE = re.compile(
    r"\b(does(?:n'?t| not) match|do(?:n'?t| not) match|not matching|"
    r"(?:is|that'?s) (?:incorrect|wrong)|information is wrong|"
    r"wrong (?:date|number|id))\b",
    re.I,
)
_NOT_FOUND_RE = re.compile(
    r"\b(no record|can(?:no|')?t find|cannot find|not in (?:our|the) system|"
    r"(?:could|can)(?:n'?t| not) locate|no such (?:member|claim|policy|patient))\b",
    re.I,
)
_CONSENT_RE = re.compile(
    r"\b(consent|authori[sz]ation|not authori[sz]ed|can(?:no|')?t (?:share|release|"
    r"disclose|give out)|cannot (?:share|release|disclose)|privacy|hipaa)\b",
    re.I,
)
_LONG_HOLD_S = 600.0


def missing_required(
    fields: Sequence[PostCallField], collected: Mapping[str, Any]
) -> list[str]:
    return [f.name for f in fields if f.required and collected.get(f.name) is None]


def resolve(
    fields: Sequence[PostCallField], collected: Mapping[str, Any]
) -> Resolution:
    """Retrieved when at least one field was extracted and no required one is
    missing."""
    got_any = any(collected.get(f.name) is not None for f in fields)
    if got_any and not missing_required(fields, collected):
        return Resolution.RETRIEVED
    return Resolution.NOT_RETRIEVED


def refine_disposition(
    result: ConversationResult,
    fields: Sequence[PostCallField],
    collected: Mapping[str, Any],
) -> Disposition:
    """A completed conversation that left a required field unanswered is
    ``incomplete``, so the retry policy can call again."""
    if result.disposition is Disposition.COMPLETED and missing_required(
        fields, collected
    ):
        return Disposition.INCOMPLETE
    return result.disposition


def _callee_says(result: ConversationResult, pattern: re.Pattern[str]) -> bool:
    return any(
        t.role is Role.CALLEE and pattern.search(t.content) for t in result.turns
    )


_NO_CONVERSATION: dict[Disposition, tuple[CallCategory, StrEnum | None, Outcome]] = {
    Disposition.NO_ANSWER: (PayorCallCategory.NO_RESPONSE, None, Outcome.NO_ANSWER),
    Disposition.BUSY: (PayorCallCategory.NO_RESPONSE, None, Outcome.BUSY),
    # A rejected call never became a conversation, so it is no response rather
    # than a disconnection.
    Disposition.DECLINED: (PayorCallCategory.NO_RESPONSE, None, Outcome.DECLINED),
    Disposition.INVALID_NUMBER: (
        PayorCallCategory.SERVICE_NOT_AVAILABLE,
        ServiceNotAvailableSubCategory.PHONE_NUMBER_NOT_AVAILABLE,
        Outcome.INVALID_NUMBER,
    ),
    Disposition.CAPACITY: (
        PayorCallCategory.SERVICE_NOT_AVAILABLE,
        ServiceNotAvailableSubCategory.CLOGGED_SERVICE,
        Outcome.CAPACITY,
    ),
    Disposition.FAILED: (
        PayorCallCategory.SERVICE_NOT_AVAILABLE,
        ServiceNotAvailableSubCategory.TECHNICAL_ISSUE,
        Outcome.FAILED,
    ),
    Disposition.INTERRUPTED: (
        PayorCallCategory.SERVICE_NOT_AVAILABLE,
        ServiceNotAvailableSubCategory.TECHNICAL_ISSUE,
        Outcome.INTERRUPTED,
    ),
}


def categorize(
    result: ConversationResult,
    fields: Sequence[PostCallField],
    collected: Mapping[str, Any],
) -> Categorization:
    """Category, subcategory, resolution and outcome of one attempt.

    ``collected`` maps field names to the values extracted from this call.
    """
    resolution = resolve(fields, collected)
    category, subcategory, outcome = _classify(result, fields, collected, resolution)
    return Categorization(category, subcategory, resolution, outcome)


def _classify(
    result: ConversationResult,
    fields: Sequence[PostCallField],
    collected: Mapping[str, Any],
    resolution: Resolution,
) -> tuple[CallCategory, StrEnum | None, Outcome]:
    disposition = result.disposition
    if result.dnc_requested or disposition is Disposition.DO_NOT_CALL:
        return PatientCallCategory.DNC_REQUESTED, None, Outcome.DNC_REQUESTED
    if result.wrong_number or disposition is Disposition.WRONG_NUMBER:
        return PayorCallCategory.WRONG_PHONE_NUMBER, None, Outcome.WRONG_NUMBER
    if result.transferred or disposition is Disposition.TRANSFERRED:
        asked = _callee_says(result, _HUMAN_ONLY_RE)
        sub = (
            TransferSubCategory.HUMAN_REQUESTED
            if asked
            else TransferSubCategory.NATURAL_TRANSFER
        )
        return PayorCallCategory.TRANSFER, sub, Outcome.TRANSFERRED
    if result.after_hours or disposition is Disposition.AFTER_HOURS:
        return PayorCallCategory.AFTER_HOURS, None, Outcome.AFTER_HOURS
    if disposition is Disposition.VOICEMAIL or result.answered_by is AnsweredBy.MACHINE:
        outcome = Outcome.VOICEMAIL_LEFT if result.voicemail_left else Outcome.VOICEMAIL
        return PayorCallCategory.VOICEMAIL, None, outcome
    if disposition in _NO_CONVERSATION:
        return _NO_CONVERSATION[disposition]

    if resolution is Resolution.RETRIEVED:
        return PayorCallCategory.GOOD, None, Outcome.DATA_RETRIEVED
    if not fields:
        return PayorCallCategory.GOOD, None, Outcome.COMPLETED
    if result.answered_by is AnsweredBy.IVR and not result.answers:
        long_wait = result.hold_s >= _LONG_HOLD_S
        sub = (
            IVRLoopSubCategory.LONG_WAITING_PERIOD
            if long_wait
            else IVRLoopSubCategory.BAD_INTERACTION_WITH_IVR
        )
        return PayorCallCategory.IVR_LOOP, sub, Outcome.IVR_LOOP
    if _callee_says(result, _HUMAN_ONLY_RE):
        sub = (
            HumanOnlySubcategory.MID_CALL
            if result.answers
            else HumanOnlySubcategory.STARTING_CALL
        )
        return PayorCallCategory.HUMAN_ONLY, sub, Outcome.HUMAN_ONLY
    if _callee_says(result, _NOT_FOUND_RE):
        return (
            PayorCallCategory.NOT_FOUND,
            NotFoundSubCategory.MEMBER,
            Outcome.NOT_FOUND,
        )
    if _callee_says(result, _MISMATCH_RE):
        return (
            PayorCallCategory.INPUT_DATA_ISSUE,
            InputDataIssueSubCategory.INCORRECT_INFORMATION,
            Outcome.VERIFICATION_FAILED,
        )
    if _callee_says(result, _CONSENT_RE):
        return PayorCallCategory.MEMBER_CONSENT_REQUIRED, None, Outcome.CONSENT_REQUIRED
    if result.error:
        return (
            PayorCallCategory.SERVICE_NOT_AVAILABLE,
            ServiceNotAvailableSubCategory.TECHNICAL_ISSUE,
            Outcome.FAILED,
        )
    if result.ended_by is EndedBy.CALLEE or result.ended_by is EndedBy.NETWORK:
        return PayorCallCategory.DISCONNECTED, None, Outcome.DISCONNECTED
    return PayorCallCategory.NOT_ALL_DATA_POINTS_RETRIEVED, None, Outcome.DATA_MISSING
