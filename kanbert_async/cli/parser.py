"""The command line's grammar: one parser per command (``export``, ``sandbox``, ``demo``), with a
description, examples, every default and the exit codes in each ``--help``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn

from .._version import __version__
from .logs import verbosity_option
from .messages import EXIT_CODES, EXIT_INPUT
from .options import DEFAULT_BASE_URL, date, formats, pdf_name, positive, rate, redis_url, retries

__all__ = ["build_parser"]


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions and epilogs as written, every option's default shown."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit with EXIT_INPUT."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--token", help="API token (default: $KANBERT_API_TOKEN)")
    group.add_argument(
        "--base-url",
        help=f"API base URL, ending in /api/v1 (default: $KANBERT_BASE_URL or {DEFAULT_BASE_URL})",
    )
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain http:// --base-url to another machine (sends the token unencrypted)",
    )
    group.add_argument(
        "--rate-limit", type=rate, help="client-side pacing, e.g. 600/min (default: learned from the server)"
    )
    group.add_argument(
        "--rate-limit-redis",
        type=redis_url,
        metavar="URL",
        help="share the token's rate-limit budget with every process using this Redis, e.g. "
        "redis://localhost:6379/0 (default: $KANBERT_RATE_LIMIT_REDIS_URL); if Redis is unreachable, "
        "a warning, and this process paces itself until it answers",
    )
    group.add_argument(
        "--max-retries", type=retries, default=5, help="retries of a failed request (timeouts, 429, 5xx)"
    )


EXPORT_DESCRIPTION = """\
Export every record of a listing — by default every invoice, archived ones included — with its
line items, discounts and external costs, to JSON Lines, CSV and/or Parquet, and optionally each
invoice's PDF. Files are written atomically; manifest.json lists them with sha256, counts, the
filter and what it left out. A killed export continues with --resume and writes the same bytes;
--since-last later adds only what changed."""

EXPORT_EXAMPLES = """\
examples:
  kanbert-async export outgoing-invoices --out ./export --pdfs --pdf-name '{invoice_number}'
  kanbert-async export outgoing-invoices --out ./export --since-last       # next day: just the changes
  kanbert-async export outgoing-invoices --out ./books --format csv --csv-dialect excel-de \\
      --filter 'status eq "booked"' --since 2024-01-01 --until 2024-12-31
  kanbert-async export outgoing-invoices --out - --include '' | jq .invoice_number

"""


def _export_parser(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="bulk-export records (and PDFs) to JSON Lines, CSV or Parquet",
        description=EXPORT_DESCRIPTION,
        epilog=EXPORT_EXAMPLES + EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    export.add_argument(
        "entity", choices=["outgoing-invoices", "outgoing-invoice-masters"], help="what to export"
    )
    what = export.add_argument_group("what to export")
    what.add_argument(
        "--include",
        default="line_items,discounts,external_costs",
        help="relations to include, comma-separated ('' for none)",
    )
    what.add_argument("--filter", help="filter in the API's DSL, e.g. 'status eq \"booked\"'")
    what.add_argument("--since", type=date, help="first day (inclusive) of the invoice date")
    what.add_argument("--until", type=date, help="last day (inclusive) of the invoice date")
    what.add_argument(
        "--archived",
        choices=["with", "only", "without"],
        default="with",
        help="archived records: included, only them, or left out",
    )
    what.add_argument("--pdfs", action="store_true", help="also download each invoice's PDF into pdfs/")
    where = export.add_argument_group("output")
    where.add_argument(
        "--out",
        required=True,
        help="output directory: new or empty (or an earlier export, with --resume or --since-last); "
        "'-' streams JSON Lines to stdout",
    )
    where.add_argument(
        "--format",
        type=formats,
        default="both",
        help="jsonl, csv, parquet, both (jsonl and csv) or a comma list",
    )
    where.add_argument(
        "--csv-dialect",
        choices=["rfc4180", "excel", "excel-de"],
        default="rfc4180",
        help="rfc4180: plain, for programs; excel: UTF-8 BOM; excel-de: BOM, ';' and decimal comma. "
        "Both excel dialects put a ' before text that starts with =, +, -, @, a tab or CR, so a "
        "spreadsheet shows it instead of running it as a formula (numbers stay numbers)",
    )
    where.add_argument(
        "--pdf-name",
        type=pdf_name,
        default="{id}",
        help="PDF file names from record fields, e.g. '{invoice_number}' or '{client.name}_{invoice_number}'",
    )
    runs = export.add_argument_group("runs")
    runs.add_argument("--resume", action="store_true", help="continue an interrupted export in --out")
    runs.add_argument(
        "--since-last",
        action="store_true",
        help="merge in only what changed since the export in --out was made",
    )
    runs.add_argument("--partitions", type=positive, default=8, help="concurrent listing partitions")
    runs.add_argument("--concurrency", type=positive, default=8, help="concurrent PDF downloads")
    runs.add_argument("--page-size", type=positive, default=100, help="records per request")
    runs.add_argument("--quiet", action="store_true", help="no progress output")
    verbosity_option(runs)
    _connection_options(export)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kanbert-async",
        description="The Kanbert API from the command line.",
        epilog="examples:\n  kanbert-async export outgoing-invoices --out ./export --pdfs\n"
        "  kanbert-async sandbox --port 8765\n  kanbert-async demo\n\n" + EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kanbert-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    _export_parser(commands)

    from ..sandbox.cli import add_arguments

    sandbox = commands.add_parser(
        "sandbox",
        help="run a local Kanbert API server with realistic data",
        description="Serve a local Kanbert API with seeded invoices until Ctrl-C or SIGTERM. Prints "
        "KANBERT_BASE_URL and KANBERT_API_TOKEN lines first, ready for the environment.",
        epilog="examples:\n  kanbert-async sandbox --port 8765 --invoices 5000 --seed 1\n"
        "  kanbert-async sandbox --port 0 --rate-limit 600/min --error-rate 0.02\n\n" + EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    add_arguments(sandbox)
    verbosity_option(sandbox)

    demo = commands.add_parser(
        "demo",
        help="export from a bundled sandbox: the SDK's main job, end to end",
        description="Start a sandbox on a bad day (latency, a rate limit, injected faults), export every "
        "invoice (archived ones included) with PDFs, check the files against the sandbox's data, "
        "and print a summary. --out must be new, empty or an earlier export: only files an export "
        "of kanbert-async wrote are replaced.",
        epilog="examples:\n  kanbert-async demo\n  kanbert-async demo --out /tmp/demo --invoices 500\n\n"
        + EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="output directory")
    demo.add_argument("--invoices", type=positive, default=2000, help="invoices in the sandbox")
    demo.add_argument("--seed", type=int, default=1, help="data seed")
    verbosity_option(demo)
    return parser
