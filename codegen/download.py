"""``python -m codegen.download [--url URL] [--to PATH]``: fetch Kanbert's published description.

Replaces ``openapi/openapi.json`` with the bundle Kanbert publishes, after checking it is an
OpenAPI document; then ``make generate`` rebuilds the SDK from it (corrections stay in the overlay
and the codegen rules). The file is replaced atomically, so a failed download changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from codegen.spec import SPEC_PATH

BUNDLE_URL = "https://developers.kanbert.com/_bundle/openapi.json"


def download(url: str, target: Path, *, timeout: float = 60.0) -> int:
    """Fetch ``url`` into ``target``; returns the number of operations the description holds."""
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "kanbert-async-codegen"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
    try:
        spec = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"{url} did not return JSON ({exc})") from None
    if not isinstance(spec, dict) or not str(spec.get("openapi", "")).startswith("3.") or "paths" not in spec:
        raise ValueError(f"{url} did not return an OpenAPI 3 description")
    temp = target.with_name(f".{target.name}.download")
    temp.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temp, target)
    return sum(
        1
        for item in spec["paths"].values()
        for key in item
        if key in {"get", "post", "put", "patch", "delete"}
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m codegen.download", description=__doc__)
    parser.add_argument("--url", default=BUNDLE_URL)
    parser.add_argument("--to", type=Path, default=SPEC_PATH)
    args = parser.parse_args(argv)
    try:
        operations = download(args.url, args.to)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        print(f"spec-download: could not fetch {args.url}: {exc}; {args.to} is unchanged", file=sys.stderr)
        return 1
    print(f"spec-download: {args.to} now holds {operations} operations; run `make generate`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
