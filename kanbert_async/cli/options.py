"""The command's option values: types that turn bad text into argparse's one-line error, and the
defaults that come from the environment (``KANBERT_BASE_URL``)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from urllib.parse import urlsplit

from .._core.ratelimit import parse_rate

__all__ = ["DEFAULT_BASE_URL", "base_url", "date", "formats", "pdf_name", "positive", "rate", "retries"]

DEFAULT_BASE_URL = "https://api.kanbert.com/api/v1"


def date(text: str) -> dt.date:
    """``--since``/``--until``: an ISO date."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-01-31") from None


def _whole(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        what = "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def positive(text: str) -> int:
    """A count of at least one (``--partitions``, ``--page-size``, …)."""
    return _whole(text, 1)


def retries(text: str) -> int:
    """``--max-retries``: a count of at least zero."""
    return _whole(text, 0)


def rate(text: str) -> str:
    """``--rate-limit``: a rate the client's limiter reads, like ``600/min``."""
    try:
        parse_rate(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rate; write it like 10/s, 600/min or 5000/h"
        ) from None
    return text


def redis_url(text: str) -> str:
    """``--rate-limit-redis``: a Redis URL (whether Redis answers is found out when it is used)."""
    if urlsplit(text).scheme not in ("redis", "rediss", "unix"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Redis URL like redis://localhost:6379/0")
    return text


def formats(text: str) -> str:
    """``--format``: the formats as a canonical comma list."""
    from ..export.config import parse_formats

    try:
        return ",".join(parse_formats(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def pdf_name(text: str) -> str:
    """``--pdf-name``: a template of record fields."""
    from ..export.pdfnames import template_fields

    try:
        template_fields(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def base_url(args: argparse.Namespace | None) -> str:
    """The API base URL the command uses: ``--base-url``, ``$KANBERT_BASE_URL``, or Kanbert's."""
    return str(getattr(args, "base_url", None) or os.environ.get("KANBERT_BASE_URL") or DEFAULT_BASE_URL)
