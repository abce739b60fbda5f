"""Contract test against Stoplight Prism: every operation of every description, called through
``KanbertClient`` with valid arguments, returns its documented type.

Prism validates each request against the description (a wrong parameter, body or ``Accept`` is a
422/406) and answers with random schema-valid bodies, so this checks the generated SDK's requests
and decoding against a server we did not write. Each SDK is the package ``make generate`` leaves
for that description (a scratch copy of ``kanbert_async``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from codegen.spec import HTTP_METHODS, load_spec

from . import prism
from .scratch import DOCUMENTS, ROOT, Scratch, overlay_for


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_every_operation_returns_its_documented_type_from_prism(sdks: dict[str, Scratch], name: str) -> None:
    sdk = sdks[name]
    overlay = overlay_for(name)
    with prism.serve(sdk.spec) as base_url:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.corpus.contract", str(sdk.spec), base_url]
            + (["--overlay", str(overlay)] if overlay else []),
            # The scratch root first: `python -m` puts the working directory ahead of PYTHONPATH.
            cwd=sdk.root,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(sdk.root), str(ROOT)])},
        )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    failed = [line for line in lines if not line["ok"]]
    assert not failed and proc.returncode == 0, json.dumps(failed, indent=1)[-6000:] + proc.stderr[-3000:]
    documented = sum(
        1 for item in load_spec(sdk.spec, None)["paths"].values() for m in item if m in HTTP_METHODS
    )
    assert len(lines) == documented
