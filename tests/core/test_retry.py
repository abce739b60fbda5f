"""Specification of the retry decisions: which failures are retried, and after how long."""

from __future__ import annotations

import dataclasses
import random
from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, MultiDict

from kanbert_async._core.retry import (
    Failure,
    RetryDecision,
    RetryPolicy,
    decide_retry,
    get_header,
    parse_retry_after,
)

NOW = 1_700_000_000.0
NO_JITTER = RetryPolicy(jitter=0.0)


def decide(
    *,
    status: int | None = None,
    failure: Failure | None = None,
    method: str = "GET",
    attempt: int = 0,
    headers: dict[str, str] | None = None,
    policy: RetryPolicy = NO_JITTER,
    now: float = NOW,
    started_at: float = NOW,
    retry_unsafe: bool = False,
) -> RetryDecision:
    return decide_retry(
        policy,
        attempt=attempt,
        method=method,
        status=status,
        failure=failure,
        headers=headers or {},
        now=now,
        started_at=started_at,
        rng=random.Random(0),
        retry_unsafe=retry_unsafe,
    )


# --- RetryPolicy ---------------------------------------------------------------------------------


def test_policy_defaults_are_documented_values() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.backoff_base, policy.backoff_max) == (5, 0.5, 30.0)
    assert (policy.jitter, policy.max_retry_after, policy.deadline) == (1.0, 300.0, None)


def test_with_overrides_returns_a_changed_copy_and_leaves_the_original() -> None:
    policy = RetryPolicy()
    changed = policy.with_overrides(max_retries=2, deadline=10.0)
    assert (changed.max_retries, changed.deadline) == (2, 10.0)
    assert (policy.max_retries, policy.deadline) == (5, None)


def test_policy_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RetryPolicy().max_retries = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [{"max_retries": -1}, {"jitter": 1.5}, {"jitter": -0.1}, {"deadline": 0.0}, {"backoff_base": -1.0}],
)
def test_policy_rejects_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**bad)  # type: ignore[arg-type]


def test_backoff_without_jitter_doubles_until_the_cap() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=3.0, jitter=0.0)
    assert [policy.backoff(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_backoff_with_the_same_seed_is_reproducible() -> None:
    policy = RetryPolicy()
    assert policy.backoff(3, random.Random(7)) == policy.backoff(3, random.Random(7))


def test_full_jitter_spreads_waits_over_the_whole_range() -> None:
    rng = random.Random(1)
    waits = [RetryPolicy(backoff_base=1.0, jitter=1.0).backoff(0, rng) for _ in range(500)]
    assert min(waits) < 0.1 and max(waits) > 0.9


@given(
    attempt=st.integers(min_value=0, max_value=10_000),
    base=st.floats(min_value=0.0, max_value=100.0),
    cap=st.floats(min_value=0.0, max_value=1_000.0),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(),
)
def test_backoff_is_never_negative_and_never_exceeds_cap(
    attempt: int, base: float, cap: float, jitter: float, seed: int
) -> None:
    wait = RetryPolicy(backoff_base=base, backoff_max=cap, jitter=jitter).backoff(
        attempt, random.Random(seed)
    )
    assert 0.0 <= wait <= cap
    assert wait >= (1.0 - jitter) * min(cap, base * 2.0 ** min(attempt, 64)) - 1e-9


# --- parse_retry_after ---------------------------------------------------------------------------


def test_retry_after_in_delta_seconds() -> None:
    assert parse_retry_after({"Retry-After": "2"}, NOW) == 2.0


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "Retry-After": "9"}, NOW) == 1.5


def test_retry_after_as_http_date() -> None:
    headers = {"Retry-After": formatdate(NOW + 30, usegmt=True)}
    assert parse_retry_after(headers, NOW) == pytest.approx(30.0)


@given(
    now=st.integers(min_value=0, max_value=4_000_000_000), delta=st.integers(min_value=0, max_value=86_400)
)
def test_retry_after_http_date_round_trips(now: int, delta: int) -> None:
    headers = {"Retry-After": formatdate(now + delta, usegmt=True)}
    assert parse_retry_after(headers, float(now)) == pytest.approx(float(delta))


def test_retry_after_http_date_with_minus_zero_zone_is_gmt() -> None:
    headers = {"Retry-After": formatdate(NOW + 10).replace("+0000", "-0000")}
    assert parse_retry_after(headers, NOW) == pytest.approx(10.0)


def test_x_ratelimit_reset_as_unix_time() -> None:
    assert parse_retry_after({"X-RateLimit-Reset": str(int(NOW) + 42)}, NOW) == 42.0


def test_small_x_ratelimit_reset_is_a_delta() -> None:
    assert parse_retry_after({"X-RateLimit-Reset": "17"}, NOW) == 17.0


def test_ietf_ratelimit_reset_is_a_delta() -> None:
    assert parse_retry_after({"RateLimit-Reset": "12"}, NOW) == 12.0


def test_priority_is_ms_then_retry_after_then_x_reset_then_ietf_reset() -> None:
    headers = {"X-RateLimit-Reset": str(int(NOW) + 50), "RateLimit-Reset": "7", "Retry-After": "3"}
    assert parse_retry_after(headers, NOW) == 3.0
    del headers["Retry-After"]
    assert parse_retry_after(headers, NOW) == 50.0
    del headers["X-RateLimit-Reset"]
    assert parse_retry_after(headers, NOW) == 7.0


@pytest.mark.parametrize("name", ["Retry-After", "retry-after", "RETRY-AFTER", "rEtRy-AfTeR"])
def test_header_lookup_ignores_case_in_a_plain_dict(name: str) -> None:
    assert parse_retry_after({name: "4"}, NOW) == 4.0


def test_header_lookup_works_on_a_multidict() -> None:
    headers = CIMultiDict([("X-RateLimit-Reset", "5"), ("retry-after", "6")])
    assert parse_retry_after(headers, NOW) == 6.0
    assert get_header(headers, "RETRY-AFTER") == "6"
    assert get_header(headers, "RateLimit-Remaining") is None


def test_header_lookup_ignores_case_in_a_case_sensitive_multidict() -> None:
    assert get_header(MultiDict([("Retry-After", "4")]), "retry-after") == "4"


def test_negative_waits_become_zero() -> None:
    assert parse_retry_after({"Retry-After": "-5"}, NOW) == 0.0
    assert parse_retry_after({"Retry-After": formatdate(NOW - 60, usegmt=True)}, NOW) == 0.0
    assert parse_retry_after({"X-RateLimit-Reset": str(int(NOW) - 60)}, NOW) == 0.0


@pytest.mark.parametrize("garbage", ["soon", "", "nan", "inf", "1e999", "Mon, 99 Foo 2024"])
def test_unreadable_values_are_ignored(garbage: str) -> None:
    assert parse_retry_after({"Retry-After": garbage}, NOW) is None


def test_unreadable_value_falls_through_to_the_next_header() -> None:
    assert parse_retry_after({"Retry-After": "later", "RateLimit-Reset": "8"}, NOW) == 8.0


def test_no_headers_no_wait() -> None:
    assert parse_retry_after({}, NOW) is None
    assert parse_retry_after({"Content-Type": "application/json"}, NOW) is None


# --- decide_retry: what is retried ---------------------------------------------------------------

IDEMPOTENT = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]
TRANSIENT = [408, 429, 500, 502, 503, 504]


@pytest.mark.parametrize("method", IDEMPOTENT)
@pytest.mark.parametrize("status", TRANSIENT)
def test_idempotent_methods_retry_on_transient_statuses(method: str, status: int) -> None:
    decision = decide(method=method, status=status)
    assert decision.retry
    assert decision.reason == f"HTTP {status}"


@pytest.mark.parametrize("method", IDEMPOTENT)
@pytest.mark.parametrize("failure", list(Failure))
def test_idempotent_methods_retry_on_every_connection_failure(method: str, failure: Failure) -> None:
    assert decide(method=method, failure=failure).retry


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501, 505])
def test_client_errors_and_other_statuses_are_not_retried(status: int) -> None:
    decision = decide(status=status)
    assert not decision.retry
    assert "not retryable" in decision.reason


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_unsafe_methods_are_not_retried_when_the_server_may_have_acted(method: str, status: int) -> None:
    assert not decide(method=method, status=status).retry


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("failure", [Failure.CONNECTION_LOST, Failure.TIMEOUT])
def test_unsafe_methods_are_not_retried_when_the_outcome_is_unknown(method: str, failure: Failure) -> None:
    decision = decide(method=method, failure=failure)
    assert not decision.retry
    assert "may have acted" in decision.reason


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_unsafe_methods_are_retried_when_the_request_provably_was_not_processed(method: str) -> None:
    assert decide(method=method, failure=Failure.CONNECT).retry
    assert decide(method=method, status=429).retry


@pytest.mark.parametrize("status", [500, 503])
def test_retry_unsafe_makes_post_retry_like_an_idempotent_method(status: int) -> None:
    assert decide(method="POST", status=status, retry_unsafe=True).retry
    assert decide(method="POST", failure=Failure.CONNECTION_LOST, retry_unsafe=True).retry


def test_method_names_are_case_insensitive() -> None:
    assert decide(method="get", status=500).retry
    assert not decide(method="post", status=500).retry


def test_reasons_name_connection_failures_for_humans() -> None:
    assert decide(failure=Failure.CONNECTION_LOST).reason == "connection lost"
    assert decide(failure=Failure.TIMEOUT).reason == "timeout"
    assert decide(failure=Failure.CONNECT).reason == "connection failed"


def test_exactly_one_of_status_or_failure_is_required() -> None:
    with pytest.raises(ValueError):
        decide()
    with pytest.raises(ValueError):
        decide(status=503, failure=Failure.TIMEOUT)


# --- decide_retry: how many times and how long ---------------------------------------------------


def test_attempt_is_the_number_of_retries_already_made() -> None:
    policy = NO_JITTER.with_overrides(max_retries=2)
    assert decide(status=503, attempt=0, policy=policy).retry
    assert decide(status=503, attempt=1, policy=policy).retry
    last = decide(status=503, attempt=2, policy=policy)
    assert not last.retry
    assert "gave up after 2 retries" in last.reason


def test_max_retries_zero_never_retries() -> None:
    assert not decide(status=503, policy=NO_JITTER.with_overrides(max_retries=0)).retry


def test_without_server_wait_the_backoff_is_exponential() -> None:
    waits = [decide(status=503, attempt=n).wait for n in range(4)]
    assert waits == [0.5, 1.0, 2.0, 4.0]


def test_backoff_is_capped_at_backoff_max() -> None:
    policy = NO_JITTER.with_overrides(max_retries=50, backoff_max=30.0)
    assert decide(status=503, attempt=40, policy=policy).wait == 30.0


def test_server_wait_replaces_the_backoff() -> None:
    decision = decide(status=429, attempt=3, headers={"Retry-After": "2"})
    assert decision == RetryDecision(True, 2.0, "HTTP 429, server asked 2.0s", server_wait=2.0)


def test_server_wait_is_honoured_on_503_too() -> None:
    decision = decide(status=503, headers={"Retry-After": "7"})
    assert (decision.retry, decision.wait) == (True, 7.0)


def test_zero_server_wait_still_waits_a_moment() -> None:
    decision = decide(status=429, headers={"Retry-After": "0"})
    assert decision.retry
    assert 0.0 < decision.wait < 0.5


def test_rate_limit_reset_header_counts_as_a_wait_on_429() -> None:
    decision = decide(status=429, headers={"X-RateLimit-Reset": str(int(NOW) + 20)})
    assert decision.wait == 20.0


def test_rate_limit_reset_header_on_a_503_does_not_replace_the_backoff() -> None:
    # Gateways send reset headers on every response; only a 429 turns them into "come back then".
    decision = decide(status=503, headers={"X-RateLimit-Reset": str(int(NOW) + 50)})
    assert decision.wait == 0.5


def test_server_wait_longer_than_max_retry_after_surfaces_with_the_wait_attached() -> None:
    decision = decide(status=429, headers={"Retry-After": "600"})
    assert not decision.retry
    assert decision.server_wait == 600.0
    assert "max_retry_after" in decision.reason


def test_server_wait_equal_to_max_retry_after_is_still_waited() -> None:
    assert decide(status=429, headers={"Retry-After": "300"}).retry


def test_a_wait_that_would_pass_the_deadline_ends_retrying() -> None:
    policy = NO_JITTER.with_overrides(deadline=10.0)
    decision = decide(status=429, headers={"Retry-After": "5"}, policy=policy, now=NOW + 6, started_at=NOW)
    assert not decision.retry
    assert "deadline" in decision.reason


def test_a_wait_within_the_deadline_is_retried() -> None:
    policy = NO_JITTER.with_overrides(deadline=10.0)
    assert decide(status=429, headers={"Retry-After": "3"}, policy=policy, now=NOW + 6, started_at=NOW).retry


def test_not_retried_decisions_report_the_server_wait_but_no_wait() -> None:
    decision = decide(status=429, attempt=5, headers={"Retry-After": "2"})
    assert (decision.retry, decision.wait, decision.server_wait) == (False, 0.0, 2.0)


@given(
    attempt=st.integers(min_value=0, max_value=20),
    status=st.sampled_from(TRANSIENT),
    seed=st.integers(),
)
def test_retry_waits_stay_within_the_policy(attempt: int, status: int, seed: int) -> None:
    policy = RetryPolicy(max_retries=100)
    decision = decide_retry(
        policy,
        attempt=attempt,
        method="GET",
        status=status,
        failure=None,
        headers={},
        now=NOW,
        started_at=NOW,
        rng=random.Random(seed),
    )
    assert decision.retry
    assert 0.0 <= decision.wait <= policy.backoff_max
