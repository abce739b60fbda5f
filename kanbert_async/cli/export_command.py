"""``kanbert-async export``: the options checked as a whole, turned into an ``ExportConfig``, run,
and summed up in one line."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._core.errors import InvalidRequestError
from .messages import EXIT_OK, UsageError
from .options import DEFAULT_BASE_URL, base_url

__all__ = ["check_export_args", "run_export_command"]


def check_export_args(args: argparse.Namespace) -> None:
    """Option combinations argparse cannot check, and what the client would refuse in its own words."""
    from .._core.settings import check_base_url

    if args.since and args.until and args.since > args.until:
        raise UsageError(f"--since {args.since} is after --until {args.until}: no date is in that range")
    if args.out == "-":
        refused = [
            flag
            for flag, on in (
                ("--pdfs", args.pdfs),
                ("--resume", args.resume),
                ("--since-last", args.since_last),
            )
            if on
        ]
        if refused:
            raise UsageError(f"--out - streams JSON Lines to stdout: it cannot take {', '.join(refused)}")
        if args.format not in ("jsonl", "jsonl,csv"):
            raise UsageError("--out - streams JSON Lines to stdout: drop --format or pass --format jsonl")
    if args.rate_limit_redis and importlib.util.find_spec("redis") is None:
        raise UsageError("--rate-limit-redis needs the redis package: pip install 'kanbert-async[redis]'")
    token = args.token if args.token is not None else os.environ.get("KANBERT_API_TOKEN")
    if not token:
        raise UsageError(
            "no API token: pass --token or set KANBERT_API_TOKEN "
            "(create one in Kanbert under Settings → Apps & API)"
        )
    url = base_url(args)
    source = (
        "--base-url"
        if args.base_url
        else "KANBERT_BASE_URL"
        if os.environ.get("KANBERT_BASE_URL")
        else "--base-url"
    )
    try:
        check_base_url(url, allow_insecure_http=args.allow_insecure_http)
    except InvalidRequestError:
        if urlsplit(url).scheme == "http":
            raise UsageError(
                f"{source} {url} is plain http to another machine, which would send the token unencrypted; "
                "use https, or pass --allow-insecure-http if you mean it"
            ) from None
        raise UsageError(f"{source} {url!r} is not an http(s) URL like {DEFAULT_BASE_URL}") from None


def _config(args: argparse.Namespace) -> Any:
    from ..export import ExportConfig

    return ExportConfig(
        entity=args.entity,
        out=Path(args.out),
        include=tuple(part.strip() for part in args.include.split(",") if part.strip()),
        filter=args.filter,
        since=args.since,
        until=args.until,
        pdfs=args.pdfs,
        format="jsonl" if args.out == "-" else args.format,
        partitions=args.partitions,
        concurrency=args.concurrency,
        page_size=args.page_size,
        resume=args.resume,
        archived=args.archived,
        csv_dialect=args.csv_dialect,
        pdf_name=args.pdf_name,
        since_last=args.since_last,
    )


def _summary(result: Any, streaming: bool) -> str:
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items())
    where = "stdout" if streaming else str(result.out)
    line = (
        f"exported {counts} to {where} in {result.elapsed:.1f}s "
        f"({result.requests} requests, {result.retries} retries, {result.rate_limited} × 429)"
    )
    if result.changes is not None:
        added, updated = result.changes["added"], result.changes["updated"]
        line += f"; generation {result.generation}: {added} added, {updated} updated"
    line += "; " + (
        "; ".join(result.scope) if result.scope else "nothing left out (archived records included)"
    )
    if not streaming:
        line += f"; manifest: {result.out / 'manifest.json'}"
    return line


async def run_export_command(args: argparse.Namespace) -> int:
    from .. import RedisStore

    if not args.rate_limit_redis:
        return await _export(args, None)  # the client reads KANBERT_RATE_LIMIT_REDIS_URL itself
    store = RedisStore.from_url(args.rate_limit_redis)
    try:
        return await _export(args, store)
    finally:
        await store.aclose()


async def _export(args: argparse.Namespace, store: Any) -> int:
    from .. import KanbertClient
    from ..export import Progress, run_export, stream_export

    config = _config(args)
    streaming = args.out == "-"
    progress = None if args.quiet or streaming else Progress()
    async with KanbertClient(
        args.token,
        base_url=args.base_url,
        rate_limit=args.rate_limit,
        rate_limit_store=store,
        max_retries=args.max_retries,
        allow_insecure_http=args.allow_insecure_http,
    ) as kb:
        try:
            if streaming:
                result = await stream_export(kb, config, sys.stdout.buffer)
            else:
                result = await run_export(kb, config, progress)
        finally:
            if progress is not None:
                progress.close()
    for warning in result.warnings:
        print(f"kanbert-async: warning: {warning}", file=sys.stderr)
    print(_summary(result, streaming), file=sys.stderr if streaming else sys.stdout)
    return EXIT_OK
