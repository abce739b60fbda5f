"""The sandbox's throttles behave like the servers they imitate, and say so in those servers' words."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest

from kanbert_async.sandbox.ratelimit import RateLimit, RetryAfter, Verdict, limit_headers, make_throttle

WALL = 1_780_000_000.25


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_laravel_window_opens_at_the_first_hit_and_refuses_until_it_ends() -> None:
    clock = Clock()
    throttle = make_throttle(RateLimit(3, 10.0), "fixed", clock=clock)
    assert [throttle.hit("a").remaining for _ in range(3)] == [2, 1, 0]
    clock.now = 104.2
    refused = throttle.hit("a")
    assert not refused.allowed and refused.retry_after == pytest.approx(5.8)
    assert throttle.hit("b").allowed, "windows are per token"
    clock.now = 110.0
    assert throttle.hit("a").remaining == 2, "a refused request does not count"


def test_a_token_bucket_refills_continuously_from_its_burst() -> None:
    clock = Clock()
    throttle = make_throttle(RateLimit(10, 1.0), "bucket", burst=5, clock=clock)
    assert [throttle.hit("a").allowed for _ in range(6)] == [True] * 5 + [False]
    refused = throttle.hit("a")
    assert refused.retry_after == pytest.approx(0.1), "one token comes back every 0.1 s"
    clock.now += 0.25
    assert [throttle.hit("a").allowed for _ in range(3)] == [True, True, False]


def test_a_sliding_log_admits_a_hit_when_the_one_a_window_before_expires() -> None:
    clock = Clock()
    throttle = make_throttle(RateLimit(2, 1.0), "sliding", clock=clock)
    assert throttle.hit("a").allowed
    clock.now += 0.6
    assert throttle.hit("a").allowed
    refused = throttle.hit("a")
    assert not refused.allowed and refused.retry_after == pytest.approx(0.4)
    clock.now += 0.4
    assert throttle.hit("a").allowed, "the first hit has left the window"
    assert not throttle.hit("a").allowed, "the second has not"


def _refused(retry_after: float = 0.3, reset_after: float = 0.3) -> Verdict:
    return Verdict(False, 10, 0, retry_after, reset_after, (10, 1.0))


def test_laravel_headers_state_limit_remaining_and_on_a_429_when_to_come_back() -> None:
    passed = limit_headers(Verdict(True, 10, 4, 0, 0.5, (10, 1.0)), "laravel", "seconds", wall=WALL)
    assert passed == {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "4"}
    refused = limit_headers(_refused(1.3, 1.3), "laravel", "seconds", wall=WALL)
    assert refused["X-RateLimit-Reset"] == str(int(WALL) + 1) and refused["Retry-After"] == "1"


def test_laravel_states_whole_seconds_rounded_down_so_up_to_a_second_early_even_zero() -> None:
    # Laravel keeps the window's end as a whole unix second and counts whole seconds to it.
    refused = limit_headers(_refused(0.5, 0.5), "laravel", "seconds", wall=WALL + 0.1)
    assert refused["X-RateLimit-Reset"] == str(int(WALL)), "the end, .85 past the second, rounded down"
    assert refused["Retry-After"] == "0", "though half a second is left"


def test_ietf_headers_state_the_policy_and_the_reset_on_every_answer() -> None:
    passed = limit_headers(Verdict(True, 15, 7, 0, 0.6, (15, 1.0)), "ietf", "seconds", wall=WALL)
    assert passed == {
        "RateLimit-Limit": "15",
        "RateLimit-Remaining": "7",
        "RateLimit-Reset": "1",
        "RateLimit-Policy": "15;w=1",
    }


@pytest.mark.parametrize(("retry_after", "expected"), [("seconds", "2"), ("omit", None)])
def test_a_server_without_rate_limit_headers_sends_only_its_429(
    retry_after: RetryAfter, expected: str | None
) -> None:
    headers = limit_headers(_refused(1.2, 1.2), "none", retry_after, wall=WALL)
    assert headers.get("Retry-After") == expected
    assert not any(name.lower().startswith(("x-ratelimit", "ratelimit")) for name in headers)


def test_a_retry_after_date_is_never_earlier_than_the_truth() -> None:
    headers = limit_headers(_refused(0.3, 0.3), "none", "date", wall=WALL)
    when = parsedate_to_datetime(headers["Retry-After"]).timestamp()
    assert WALL + 0.3 <= when < WALL + 1.3
