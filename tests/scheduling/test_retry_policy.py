from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callfleet.campaigns.settings import Disposition, RetryPolicy, RetryRule
from callfleet.scheduling.retry_policy import RetryDecision, decide, retry_delay

NOW = datetime(2026, 1, 5, 15, tzinfo=UTC)


def run(
    policy: RetryPolicy,
    disposition: Disposition,
    *,
    attempts_used: int = 1,
    free_retries_used: int = 0,
    streak: int = 1,
) -> RetryDecision:
    return decide(
        policy,
        disposition,
        attempts_used=attempts_used,
        free_retries_used=free_retries_used,
        same_disposition_streak=streak,
        now=NOW,
    )


def test_completed_is_final() -> None:
    decision = run(RetryPolicy(), Disposition.COMPLETED)

    assert decision.final and decision.retry_at is None
    assert decision.reason == "final_disposition"


@pytest.mark.parametrize(
    "disposition",
    [
        Disposition.INVALID_NUMBER,
        Disposition.DECLINED,
        Disposition.DO_NOT_CALL,
        Disposition.WRONG_NUMBER,
    ],
)
def test_final_dispositions_are_never_retried(disposition: Disposition) -> None:
    assert run(RetryPolicy(max_attempts=10), disposition).final


def test_no_answer_waits_its_default_delay() -> None:
    decision = run(RetryPolicy(), Disposition.NO_ANSWER)

    assert decision == RetryDecision(
        final=False,
        retry_at=NOW + timedelta(hours=2),
        uses_attempt=True,
        reason="retry",
    )


def test_busy_retries_sooner_than_no_answer() -> None:
    busy = run(RetryPolicy(), Disposition.BUSY)
    no_answer = run(RetryPolicy(), Disposition.NO_ANSWER)

    assert busy.retry_at == NOW + timedelta(minutes=15)
    assert busy.retry_at < no_answer.retry_at


def test_the_last_allowed_attempt_ends_the_target() -> None:
    policy = RetryPolicy(max_attempts=3)

    assert not run(policy, Disposition.VOICEMAIL, attempts_used=2).final
    decision = run(policy, Disposition.VOICEMAIL, attempts_used=3)

    assert decision.final and decision.reason == "max_attempts_reached"
    assert decision.retry_at is None


def test_single_attempt_policy_never_retries_a_charged_disposition() -> None:
    decision = run(RetryPolicy(max_attempts=1), Disposition.NO_ANSWER, attempts_used=1)

    assert decision.final and decision.reason == "max_attempts_reached"


def test_capacity_uses_no_attempt_even_when_attempts_are_spent() -> None:
    policy = RetryPolicy(max_attempts=2)

    decision = run(policy, Disposition.CAPACITY, attempts_used=2)

    assert not decision.final and not decision.uses_attempt
    assert decision.retry_at == NOW + timedelta(minutes=1)


def test_free_retries_run_out() -> None:
    policy = RetryPolicy(max_free_retries=3)

    assert not run(policy, Disposition.CAPACITY, free_retries_used=2).final
    decision = run(policy, Disposition.CAPACITY, free_retries_used=3)

    assert decision.final and decision.reason == "max_free_retries_reached"
    assert not decision.uses_attempt


def test_exponential_backoff_doubles_then_caps() -> None:
    policy = RetryPolicy(
        max_attempts=20,
        rules={
            Disposition.FAILED: RetryRule(
                delay_minutes=30, backoff="exponential", max_delay_minutes=200
            )
        },
    )

    delays = [
        run(policy, Disposition.FAILED, streak=n).retry_at - NOW for n in range(1, 6)
    ]

    assert delays == [timedelta(minutes=m) for m in (30, 60, 120, 200, 200)]


def test_a_huge_streak_stays_capped() -> None:
    rule = RetryRule(delay_minutes=5, backoff="exponential", multiplier=10)

    assert retry_delay(rule, 10_000) == timedelta(minutes=rule.max_delay_minutes)


def test_fixed_backoff_ignores_the_streak() -> None:
    rule = RetryRule(delay_minutes=45)

    assert retry_delay(rule, 1) == retry_delay(rule, 7) == timedelta(minutes=45)


def test_custom_rule_overrides_only_its_disposition() -> None:
    policy = RetryPolicy(rules={Disposition.BUSY: RetryRule(delay_minutes=3)})

    assert run(policy, Disposition.BUSY).retry_at == NOW + timedelta(minutes=3)
    assert run(policy, Disposition.NO_ANSWER).retry_at == NOW + timedelta(hours=2)


def test_dispositions_given_as_strings() -> None:
    assert run(RetryPolicy(), "voicemail").retry_at == NOW + timedelta(hours=4)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(
            RetryPolicy(),
            Disposition.BUSY,
            attempts_used=1,
            free_retries_used=0,
            same_disposition_streak=1,
            now=datetime(2026, 1, 5, 15),
        )
