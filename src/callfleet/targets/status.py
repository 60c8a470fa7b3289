"""Target statuses: Prosper's wire values, and which of them are final."""

from __future__ import annotations

from enum import StrEnum


class TargetStatus(StrEnum):
    PENDING = "Pending"
    SCHEDULED = "Scheduled"
    IN_PROGRESS = "In Progress"
    POST_PROCESSING = "Post-processing"
    FINISHED = "Finished"
    TO_REVIEW = "To review"
    FAILED = "Failed"
    WAITING = "Waiting"
    SMS_SCHEDULED = "SMS Scheduled"


FINAL_STATUSES = frozenset(
    {TargetStatus.FINISHED, TargetStatus.TO_REVIEW, TargetStatus.FAILED}
)
LIVE_STATUSES = frozenset({TargetStatus.IN_PROGRESS, TargetStatus.POST_PROCESSING})
NOT_STARTED_STATUSES = frozenset(
    {TargetStatus.PENDING, TargetStatus.SCHEDULED, TargetStatus.WAITING}
)
