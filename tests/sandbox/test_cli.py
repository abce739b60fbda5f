"""``python -m kanbert_async.sandbox``: prints where it listens, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import date

import aiohttp
import pytest

from kanbert_async.sandbox import SandboxConfig
from kanbert_async.sandbox.cli import add_arguments, config_from_args


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_every_flag_maps_to_the_config() -> None:
    config = config_from_args(
        parse(
            "--port", "0", "--invoices", "42", "--seed", "9", "--rate-limit", "50/s", "--latency", "0.05",
            "--jitter", "0.02", "--error-rate", "0.02", "--drop-rate", "0.01", "--drop-mid-body-rate", "0.01",
            "--slow-rate", "0.01", "--slow-seconds", "30", "--lost-upload-rate", "0.1", "--fault-seed", "4",
            "--max-page-size", "100", "--fault-operations", "outgoingInvoices.pdf,oauth.token",
            "--date-skew", "one_day", "--null-fraction", "0.3", "--anchor-date", "2024-12-31",
            "--access-token-ttl", "2", "--token", "t0k", "--pdf-bytes", "4096",
        )
    )  # fmt: skip
    assert config == SandboxConfig(
        port=0, invoices=42, seed=9, rate_limit="50/s", latency=0.05, jitter=0.02, error_rate=0.02,
        drop_rate=0.01, drop_mid_body_rate=0.01, slow_rate=0.01, slow_seconds=30, lost_upload_rate=0.1,
        fault_seed=4, max_page_size=100, fault_operations=frozenset({"outgoingInvoices.pdf", "oauth.token"}),
        date_skew="one_day", null_fraction=0.3, anchor_date=date(2024, 12, 31), access_token_ttl=2,
        token="t0k", pdf_min_bytes=4096,
    )  # fmt: skip
    assert config_from_args(parse()).port == 8765


@pytest.mark.parametrize(
    "argv", [["--error-rate", "2"], ["--fault-operations", "nope"], ["--slow-seconds", "-1"]]
)
def test_bad_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)


async def test_serves_in_its_own_process_until_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kanbert_async.sandbox", "--port", "0", "--invoices", "50", "--seed", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = [(await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip() for _ in range(3)]
        env = dict(line.split("=", 1) for line in lines)
        assert env["KANBERT_BASE_URL"].startswith("http://127.0.0.1:") and env["KANBERT_BASE_URL"].endswith(
            "/api/v1"
        )
        assert env["KANBERT_TOKEN_URL"].endswith("/oauth/token")
        async with aiohttp.ClientSession() as session:
            response = await session.get(
                env["KANBERT_BASE_URL"] + "/outgoing-invoices",
                headers={"Authorization": f"Bearer {env['KANBERT_API_TOKEN']}"},
            )
            assert response.status == 200 and len((await response.json())["data"]) == 30
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
