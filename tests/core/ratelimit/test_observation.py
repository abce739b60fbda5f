"""What the rate limiter reads from an answer's headers, and the rates a user may state."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from kanbert_async._core.ratelimit import Observation, bucket_named, parse_rate

UNIX = 1_780_000_000.0


def test_laravel_headers_give_limit_and_remaining() -> None:
    seen = Observation.from_headers({"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"}, UNIX)
    assert (seen.limit, seen.remaining, seen.reset, seen.retry_after) == (60, 59, None, None)


def test_a_laravel_429_gives_retry_after_and_a_unix_reset() -> None:
    headers = {"X-RateLimit-Remaining": "0", "Retry-After": "3", "X-RateLimit-Reset": str(int(UNIX) + 2)}
    seen = Observation.from_headers(headers, UNIX)
    assert (seen.retry_after, seen.reset, seen.wait, seen.coarse) == (3.0, 2.0, 2.0, True)


@pytest.mark.parametrize(
    ("policy", "quota", "window"),
    [("15;w=1", 15, 1.0), ('"default";q=600;w=60', 600, 60.0), ("100;w=10, 1000;w=3600", 100, 10.0)],
)
def test_ietf_headers_give_the_policy_window(policy: str, quota: int, window: float) -> None:
    headers = {"RateLimit-Remaining": "4", "RateLimit-Reset": "1", "RateLimit-Policy": policy}
    seen = Observation.from_headers(headers, UNIX)
    assert (seen.limit, seen.remaining, seen.reset, seen.window) == (quota, 4, 1.0, window)


def test_retry_after_as_an_http_date_or_in_milliseconds() -> None:
    dated = Observation.from_headers({"Retry-After": formatdate(UNIX + 4, usegmt=True)}, UNIX)
    assert dated.retry_after == pytest.approx(4.0) and dated.coarse
    precise = Observation.from_headers({"retry-after-ms": "250"}, UNIX)
    assert precise.retry_after == pytest.approx(0.25) and not precise.coarse


def test_an_answer_without_rate_limit_headers_says_nothing() -> None:
    assert Observation.from_headers({"Content-Type": "application/json"}, UNIX) == Observation()


@pytest.mark.parametrize(
    ("text", "per_second"), [("600/min", 10.0), ("50/s", 50.0), ("5000/hours", 5000 / 3600)]
)
def test_parse_rate_reads_human_rates(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["fast", "0/s", "10/fortnight", ""])
def test_parse_rate_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


def test_the_ietf_drafts_current_ratelimit_field_gives_remaining_and_reset_of_its_tightest_policy() -> None:
    headers = {
        "RateLimit-Policy": '"burst";q=100;w=60, "daily";q=1000;w=86400',
        "RateLimit": '"daily";r=900;t=40000, "burst";r=7;t=12',
    }
    seen = Observation.from_headers(headers, UNIX)
    assert (seen.limit, seen.remaining, seen.reset, seen.window) == (100, 7, 12.0, 60.0)


@pytest.mark.parametrize(
    ("headers", "bucket"),
    [
        ({"X-RateLimit-Resource": "search", "X-RateLimit-Remaining": "9"}, "search"),  # GitHub
        ({"X-RateLimit-Bucket": "abcd1234"}, "abcd1234"),  # Discord
        ({"RateLimit": '"pdfs";r=4;t=1', "RateLimit-Policy": '"pdfs";q=5;w=1'}, "pdfs"),
        ({"RateLimit-Policy": '"core";q=600;w=60', "RateLimit-Remaining": "599"}, "core"),
        ({"RateLimit-Policy": "15;w=1", "RateLimit-Remaining": "14"}, None),  # a policy without a name
        ({"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"}, None),  # Laravel names none
        ({}, None),
    ],
)
def test_the_bucket_an_answer_names(headers: dict[str, str], bucket: str | None) -> None:
    assert bucket_named(headers) == bucket
