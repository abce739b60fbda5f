"""``kanbert-async sandbox`` / ``python -m kanbert_async.sandbox``: serve a sandbox until stopped.

Prints ``KANBERT_BASE_URL=...`` and ``KANBERT_API_TOKEN=...`` (and the OAuth token URL) on stdout,
one per line, flushes, then serves until SIGINT or SIGTERM and exits 0. A benchmark can start
it as a subprocess and read its first lines::

    python -m kanbert_async.sandbox --port 0 --invoices 10000 --seed 1 --rate-limit 50/s
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import date
from typing import Any

from .buckets import RateLimitBucket, check_bucket
from .config import API_OPERATIONS, SandboxConfig
from .ratelimit import ALGORITHMS, HEADER_STYLES, RETRY_AFTER_FORMATS, RateLimit
from .server import Sandbox

__all__ = ["add_arguments", "config_from_args", "main", "run"]


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _port(text: str) -> int:
    port = int(text) if text.isdigit() else -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0-65535; 0 picks a free one)")
    return port


def _rate_limit(text: str) -> str:
    try:
        RateLimit.parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rate limit; write it like 600/min, 50/s or 100/10s"
        ) from None
    return text


def _bucket(text: str) -> RateLimitBucket:
    try:
        bucket = RateLimitBucket.parse(text)
        # Name, glob and rate are checked here, so a bad one is argparse's usage error, not a traceback;
        # whether --rate-limit is given and names repeat is the config's to say (it sees them all).
        check_bucket(bucket, API_OPERATIONS)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return bucket


def _operations(text: str) -> frozenset[str]:
    ops = frozenset(p.strip() for p in text.split(",") if p.strip())
    unknown = ops - API_OPERATIONS - {"oauth.token"}
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown operations: {', '.join(sorted(unknown))}")
    return ops


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's flags to ``parser`` (each maps to the :class:`SandboxConfig` field of that name)."""
    defaults = SandboxConfig()
    data = parser.add_argument_group("data")
    data.add_argument("--invoices", type=int, default=defaults.invoices, help="invoices to generate")
    data.add_argument("--masters", type=int, default=None, help="master invoices (default: invoices/20)")
    data.add_argument("--seed", type=int, default=defaults.seed, help="data seed (equal seeds, equal data)")
    data.add_argument("--anchor-date", type=date.fromisoformat, default=defaults.anchor_date,
                      help="the latest invoice date (YYYY-MM-DD)")  # fmt: skip
    data.add_argument("--years", type=int, default=defaults.years, help="how many years of invoices")
    data.add_argument("--date-skew", choices=("spread", "recent", "one_day"), default=defaults.date_skew,
                      help="how invoice dates are spread over the years")  # fmt: skip
    data.add_argument("--null-fraction", type=_fraction, default=defaults.null_fraction,
                      help="share of nullable range fields left null")  # fmt: skip
    data.add_argument("--archived-fraction", type=_fraction, default=defaults.archived_fraction,
                      help="share of records archived")  # fmt: skip
    data.add_argument("--pdf-bytes", dest="pdf_min_bytes", type=int, default=defaults.pdf_min_bytes,
                      help="pad generated PDFs to at least this many bytes")  # fmt: skip

    serving = parser.add_argument_group("serving")
    serving.add_argument("--host", default=defaults.host, help="address to listen on")
    serving.add_argument("--port", type=_port, default=8765, help="TCP port (0: any free port)")
    serving.add_argument("--token", default=None, help="the all-scopes API token (default: random)")
    serving.add_argument("--integration-slug", default=defaults.integration_slug,
                         help="the tokens' integration (default origin of external ids)")  # fmt: skip
    serving.add_argument("--max-page-size", type=int, default=defaults.max_page_size,
                         help="larger page[size] values get 422")  # fmt: skip
    serving.add_argument("--access-token-ttl", type=_seconds, default=defaults.access_token_ttl,
                         help="seconds an OAuth access token lives")  # fmt: skip
    serving.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        help="throttle per token, e.g. 600/min, 50/s or 100/10s (default: off)",
    )
    throttling = parser.add_argument_group("throttle (with --rate-limit)")
    throttling.add_argument("--throttle", choices=ALGORITHMS, default=defaults.throttle,
                            help="fixed: Laravel's window from the first hit; bucket: a token bucket; "
                                 "sliding: a sliding log (default: %(default)s)")  # fmt: skip
    throttling.add_argument("--burst", type=_positive, default=None,
                            help="token bucket size (default: the limit)")  # fmt: skip
    throttling.add_argument("--rate-limit-headers", choices=HEADER_STYLES,
                            default=defaults.rate_limit_headers,
                            help="laravel: X-RateLimit-*; ietf: RateLimit-* and RateLimit-Policy; "
                                 "none: only the 429 (default: %(default)s)")  # fmt: skip
    throttling.add_argument("--retry-after", choices=RETRY_AFTER_FORMATS, default=defaults.retry_after,
                            help="a 429's Retry-After: delta seconds, an HTTP date, or none "
                                 "(default: %(default)s)")  # fmt: skip
    throttling.add_argument("--rate-limit-bucket", dest="rate_limit_buckets", metavar="NAME:GLOB=RATE",
                            action="append", type=_bucket, default=[],
                            help="an extra bucket per token for the operation ids matching GLOB, e.g. "
                                 "'pdfs:outgoingInvoices.pdf=5/s' (repeatable; the first match wins; "
                                 "answers then name their bucket, the main one 'core')")  # fmt: skip

    faults = parser.add_argument_group("bad days")
    faults.add_argument("--latency", type=_seconds, default=0.0, help="seconds added to every request")
    faults.add_argument(
        "--jitter", type=_seconds, default=0.0, help="up to this many seconds more, at random"
    )
    faults.add_argument("--error-rate", type=_fraction, default=0.0, help="share of 500/502/503 answers")
    faults.add_argument(
        "--drop-rate", type=_fraction, default=0.0, help="share of connections closed unanswered"
    )
    faults.add_argument("--drop-mid-body-rate", type=_fraction, default=0.0,
                        help="share of responses cut off mid-body")  # fmt: skip
    faults.add_argument(
        "--slow-rate", type=_fraction, default=0.0, help="share of responses delayed by --slow-seconds"
    )
    faults.add_argument("--slow-seconds", type=_seconds, default=defaults.slow_seconds,
                        help="how long a slow response waits")  # fmt: skip
    faults.add_argument("--lost-upload-rate", type=_fraction, default=0.0,
                        help="share of uploads processed whose response is lost")  # fmt: skip
    faults.add_argument(
        "--fault-seed", type=int, default=None, help="seed of the fault dice (default: --seed)"
    )
    faults.add_argument("--fault-operations", type=_operations, default=None,
                        help="comma-separated operation ids for random faults (default: all)")  # fmt: skip


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The :class:`SandboxConfig` the parsed flags describe."""
    names = {f for f in SandboxConfig.__dataclass_fields__ if f != "clock"}
    values: dict[str, Any] = {name: getattr(args, name) for name in names if hasattr(args, name)}
    return SandboxConfig(**values)


async def _serve(config: SandboxConfig) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Sandbox(config) as sb:
        print(f"KANBERT_BASE_URL={sb.base_url}")
        print(f"KANBERT_API_TOKEN={sb.token}")
        print(f"KANBERT_TOKEN_URL={sb.token_url}")
        sys.stdout.flush()
        print(
            f"kanbert sandbox: {config.invoices} invoices (seed {config.seed}) on {sb.base_url}; "
            "Ctrl-C or SIGTERM stops it",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    """Serve the sandbox the flags describe until SIGINT/SIGTERM; returns the exit code."""
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"kanbert sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config))
    except OSError as exc:
        print(
            f"kanbert sandbox: cannot serve on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m kanbert_async.sandbox``."""
    parser = argparse.ArgumentParser(
        prog="python -m kanbert_async.sandbox", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
