"""Several throttle buckets per token: each operation draws on one, and answers name it.

The throttles are driven on a fake clock; the served answers use windows of a minute, far longer
than a test runs, so what the real clock does between requests never matters.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import aiohttp
import pytest

from kanbert_async.sandbox import RateLimitBucket, Sandbox, SandboxConfig
from kanbert_async.sandbox.buckets import MAIN_BUCKET, make_throttles
from kanbert_async.sandbox.cli import add_arguments, config_from_args, run
from kanbert_async.sandbox.ratelimit import Verdict, limit_headers

from .conftest import Api

WALL = 1_780_000_000.25
PDFS = RateLimitBucket("pdfs", "outgoingInvoices.pdf", "1/min")
MASTERS = RateLimitBucket("masters", "outgoingInvoiceMasters.*", "2/min")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the throttles, on a fake clock -------------------------------------------------------------


def test_each_bucket_counts_and_refuses_on_its_own() -> None:
    clock = Clock()
    throttles = make_throttles(
        "3/10s", [RateLimitBucket("pdfs", "outgoingInvoices.pdf", "1/2s")], clock=clock
    )
    name, pdfs = throttles.pick("outgoingInvoices.pdf")
    assert name == "pdfs" and pdfs.hit("a").allowed
    refused = pdfs.hit("a")
    assert not refused.allowed and refused.retry_after == pytest.approx(2.0)
    name, core = throttles.pick("outgoingInvoices.index")
    assert name == MAIN_BUCKET == "core"
    assert [core.hit("a").remaining for _ in range(3)] == [2, 1, 0], "the PDFs took nothing from core"
    assert not core.hit("a").allowed
    clock.now += 2.0
    assert pdfs.hit("a").allowed, "the bucket's own window has ended; core's has not"
    assert not core.hit("a").allowed


def test_a_bucket_keeps_its_state_per_token() -> None:
    throttles = make_throttles("10/s", [RateLimitBucket("pdfs", "*.pdf", "1/s")], clock=Clock())
    _, pdfs = throttles.pick("outgoingInvoices.pdf")
    assert pdfs.hit("a").allowed and not pdfs.hit("a").allowed
    assert pdfs.hit("b").allowed


def test_an_operation_draws_on_the_first_bucket_whose_glob_matches() -> None:
    throttles = make_throttles(
        "10/s",
        [RateLimitBucket("pdfs", "*.pdf", "1/s"), RateLimitBucket("invoices", "outgoingInvoices.*", "5/s")],
    )
    assert throttles.named
    assert throttles.pick("outgoingInvoices.pdf")[0] == "pdfs"
    assert throttles.pick("outgoingInvoices.index")[0] == "invoices"
    assert throttles.pick("outgoingInvoiceMasters.index")[0] == "core"
    assert throttles.pick("OUTGOINGINVOICES.PDF")[0] == "core", "globs match case-sensitively"


def test_a_single_bucket_is_core_but_not_named() -> None:
    throttles = make_throttles("10/s")
    assert throttles.pick("outgoingInvoices.pdf")[0] == "core" and not throttles.named


def test_buckets_share_the_main_algorithm_and_burst() -> None:
    clock = Clock()
    throttles = make_throttles(
        "100/s", [RateLimitBucket("pdfs", "*.pdf", "10/s")], "bucket", burst=2, clock=clock
    )
    _, pdfs = throttles.pick("outgoingInvoices.pdf")
    assert [pdfs.hit("a").allowed for _ in range(3)] == [True, True, False]
    refused = pdfs.hit("a")
    assert refused.retry_after == pytest.approx(0.1), "its own rate refills it: 10 tokens a second"
    assert refused.policy[0] == 2 and refused.policy[1] == pytest.approx(0.2)


# -- what the answers say -----------------------------------------------------------------------


def _verdict(allowed: bool) -> Verdict:
    return Verdict(allowed, 5, 4 if allowed else 0, 0 if allowed else 1.5, 1.5, (5, 60.0))


@pytest.mark.parametrize("allowed", [True, False])
def test_laravel_headers_name_the_bucket_in_x_ratelimit_resource(allowed: bool) -> None:
    headers = limit_headers(_verdict(allowed), "laravel", "seconds", wall=WALL, bucket="pdfs")
    assert headers["X-RateLimit-Resource"] == "pdfs"
    assert headers["X-RateLimit-Limit"] == "5"
    assert ("Retry-After" in headers) is not allowed


@pytest.mark.parametrize("allowed", [True, False])
def test_ietf_headers_name_the_policy(allowed: bool) -> None:
    headers = limit_headers(_verdict(allowed), "ietf", "seconds", wall=WALL, bucket="pdfs")
    assert headers["RateLimit-Policy"] == '"pdfs";q=5;w=60'
    assert "X-RateLimit-Resource" not in headers


def test_a_headerless_server_names_no_bucket() -> None:
    headers = limit_headers(_verdict(False), "none", "seconds", wall=WALL, bucket="pdfs")
    assert headers == {"Retry-After": "2"}


def test_without_a_bucket_name_the_headers_are_as_before() -> None:
    assert limit_headers(_verdict(True), "laravel", "seconds", wall=WALL) == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
    }
    assert limit_headers(_verdict(True), "ietf", "seconds", wall=WALL)["RateLimit-Policy"] == "5;w=60"


# -- served -------------------------------------------------------------------------------------


async def _counters(sb: Sandbox, session: aiohttp.ClientSession) -> dict[str, Any]:
    response = await session.get(sb.root_url + "/__sandbox__/counters")
    body: dict[str, Any] = await response.json()
    return body


async def test_a_spent_bucket_refuses_only_its_own_operations(session: aiohttp.ClientSession) -> None:
    async with Sandbox(invoices=10, seed=1, rate_limit="3/min", rate_limit_buckets=(PDFS, MASTERS)) as sb:
        api = Api(sb, session, sb.token)
        pdf = f"/outgoing-invoices/{sb.store.invoices()[0].id}/pdf"
        first = await api.get(pdf)
        assert first.status == 200
        assert (first.headers["X-RateLimit-Resource"], first.headers["X-RateLimit-Remaining"]) == (
            "pdfs",
            "0",
        )
        refused = await api.get(pdf)
        assert refused.status == 429 and refused.headers["X-RateLimit-Resource"] == "pdfs"
        assert "Retry-After" in refused.headers

        listing = await api.get("/outgoing-invoices")
        assert listing.status == 200 and listing.headers["X-RateLimit-Resource"] == "core"
        assert listing.headers["X-RateLimit-Remaining"] == "2", "the PDFs drew on their own bucket"
        missing = await api.get("/outgoing-invoices/nope")
        assert missing.status == 404 and missing.headers["X-RateLimit-Resource"] == "core"
        await api.get("/outgoing-invoices")
        spent = await api.get("/outgoing-invoices")
        assert spent.status == 429 and spent.headers["X-RateLimit-Resource"] == "core"

        masters = await api.get("/outgoing-invoices/master")
        assert masters.status == 200 and masters.headers["X-RateLimit-Resource"] == "masters"
        assert masters.headers["X-RateLimit-Remaining"] == "1", "a spent core takes nothing from it"

        assert sb.counters.rate_limited == 2 == sb.counters.statuses[429]
        assert sb.counters.rate_limited_by_bucket == {"pdfs": 1, "core": 1}
        counted = await _counters(sb, session)
        assert counted["rate_limited"] == 2 and counted["rate_limited_by_bucket"] == {"pdfs": 1, "core": 1}


async def test_ietf_answers_name_each_policy(session: aiohttp.ClientSession) -> None:
    async with Sandbox(
        invoices=10, seed=1, rate_limit="3/min", rate_limit_headers="ietf", rate_limit_buckets=(PDFS,)
    ) as sb:
        api = Api(sb, session, sb.token)
        pdf = f"/outgoing-invoices/{sb.store.invoices()[0].id}/pdf"
        assert (await api.get(pdf)).headers["RateLimit-Policy"] == '"pdfs";q=1;w=60'
        refused = await api.get(pdf)
        assert refused.status == 429 and refused.headers["RateLimit-Policy"] == '"pdfs";q=1;w=60'
        listing = await api.get("/outgoing-invoices")
        assert listing.headers["RateLimit-Policy"] == '"core";q=3;w=60'
        assert "X-RateLimit-Resource" not in listing.headers


async def test_a_headerless_sandbox_names_nothing_even_with_buckets(session: aiohttp.ClientSession) -> None:
    async with Sandbox(
        invoices=10, seed=1, rate_limit="3/min", rate_limit_headers="none", rate_limit_buckets=(PDFS,)
    ) as sb:
        api = Api(sb, session, sb.token)
        pdf = f"/outgoing-invoices/{sb.store.invoices()[0].id}/pdf"
        for response in (await api.get(pdf), await api.get(pdf), await api.get("/outgoing-invoices")):
            assert not any(name.lower().startswith(("x-ratelimit", "ratelimit")) for name in response.headers)
        assert sb.counters.rate_limited_by_bucket == {"pdfs": 1}


@pytest.mark.parametrize("style", ["laravel", "ietf"])
async def test_without_extra_buckets_nothing_is_named(session: aiohttp.ClientSession, style: str) -> None:
    async with Sandbox(invoices=10, seed=1, rate_limit="1/min", rate_limit_headers=style) as sb:
        api = Api(sb, session, sb.token)
        pdf = f"/outgoing-invoices/{sb.store.invoices()[0].id}/pdf"
        passed, refused = await api.get(pdf), await api.get("/outgoing-invoices")
        assert (passed.status, refused.status) == (200, 429), "one bucket for every operation"
        for response in (passed, refused):
            assert "X-RateLimit-Resource" not in response.headers
            assert response.headers.get("RateLimit-Policy") == (None if style == "laravel" else "1;w=60")
        assert sb.counters.rate_limited_by_bucket == {"core": 1}


async def test_reconfigure_adds_buckets_and_takes_them_back(session: aiohttp.ClientSession) -> None:
    async with Sandbox(invoices=10, seed=1, rate_limit="5/min") as sb:
        api = Api(sb, session, sb.token)
        before = sb.reconfigure(rate_limit_buckets=[PDFS])
        assert before.rate_limit_buckets == ()
        pdf = f"/outgoing-invoices/{sb.store.invoices()[0].id}/pdf"
        assert (await api.get(pdf)).headers["X-RateLimit-Resource"] == "pdfs"
        assert (await api.get(pdf)).status == 429
        sb.reconfigure(**dataclasses.asdict(before))
        again = await api.get(pdf)
        assert again.status == 200 and "X-RateLimit-Resource" not in again.headers


# -- configuration ------------------------------------------------------------------------------


def test_buckets_are_normalised_to_a_hashable_tuple() -> None:
    config = SandboxConfig(rate_limit="10/s", rate_limit_buckets=[("pdfs", "*.pdf", "5/s")])  # type: ignore[arg-type]
    assert config.rate_limit_buckets == (RateLimitBucket("pdfs", "*.pdf", "5/s"),)
    assert isinstance(config.rate_limit_buckets[0], RateLimitBucket)
    assert hash(config) == hash(dataclasses.replace(config))
    assert SandboxConfig().rate_limit_buckets == ()


@pytest.mark.parametrize(
    ("buckets", "rate_limit", "message"),
    [
        ([PDFS], None, "rate_limit_buckets needs rate_limit"),
        ([PDFS, PDFS._replace(glob="*")], "5/s", "'pdfs' is given twice"),
        ([PDFS._replace(name="")], "5/s", "bucket name '' must be non-empty"),
        ([PDFS._replace(name="pd fs")], "5/s", "'pd fs' must be non-empty letters, digits"),
        ([PDFS._replace(name="core")], "5/s", "'core' is the main bucket's"),
        ([PDFS._replace(rate="5/fortnight")], "5/s", "bucket 'pdfs': unreadable rate limit"),
        ([PDFS._replace(glob="outgoing_invoices.*pdf*")], "5/s", "matches no operation"),
        ("pdfs:*.pdf=5/s", "5/s", "must be a sequence of buckets, not a string"),
        ([("pdfs", "*.pdf")], "5/s", "is not a bucket"),
    ],
)
def test_bad_buckets_are_refused_naming_the_field(buckets: Any, rate_limit: str | None, message: str) -> None:
    with pytest.raises(ValueError, match="rate_limit_buckets") as caught:
        SandboxConfig(rate_limit=rate_limit, rate_limit_buckets=buckets)
    assert message in str(caught.value)


# -- the command line ---------------------------------------------------------------------------


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_the_bucket_flag_repeats_in_order() -> None:
    config = config_from_args(
        _parse(
            "--rate-limit", "10/s",
            "--rate-limit-bucket", "pdfs:outgoingInvoices.pdf=5/s",
            "--rate-limit-bucket", "reads:outgoingInvoices.*=50/10s",
        )
    )  # fmt: skip
    assert config.rate_limit_buckets == (
        RateLimitBucket("pdfs", "outgoingInvoices.pdf", "5/s"),
        RateLimitBucket("reads", "outgoingInvoices.*", "50/10s"),
    )
    assert config_from_args(_parse()).rate_limit_buckets == ()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("pdfs", "NAME:GLOB=RATE"),
        ("pdfs:outgoingInvoices.pdf", "NAME:GLOB=RATE"),
        (":outgoingInvoices.pdf=5/s", "NAME:GLOB=RATE"),
        ("pd fs:outgoingInvoices.pdf=5/s", "must be non-empty letters"),
        ("core:outgoingInvoices.pdf=5/s", "the main bucket's"),
        ("pdfs:outgoingInvoices.pdf=5/fortnight", "unreadable rate limit"),
        ("pdfs:outgoing_invoices.*pdf*=5/s", "matches no operation"),
    ],
)
def test_a_malformed_bucket_flag_is_a_usage_error(
    value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _parse("--rate-limit", "10/s", "--rate-limit-bucket", value)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --rate-limit-bucket" in err and says in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--rate-limit-bucket", "pdfs:*.pdf=5/s"], "needs rate_limit"),
        (
            ["--rate-limit", "9/s", "--rate-limit-bucket", "a:*.pdf=5/s", "--rate-limit-bucket", "a:*=5/s"],
            "twice",
        ),
    ],
)
def test_buckets_the_config_refuses_end_the_command_with_one_line(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(_parse(*argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("kanbert sandbox: rate_limit_buckets") and says in err and "Traceback" not in err
