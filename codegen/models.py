"""Models: datamodel-code-generator writes msgspec Structs; a few text rules bind them to our bases."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from codegen.spec import Spec, SpecError

DMCG_ARGS = [
    "--input-file-type",
    "openapi",
    "--output-model-type",
    "msgspec.Struct",
    "--target-python-version",
    "3.11",
    "--use-standard-collections",
    "--use-union-operator",
    "--use-schema-description",
    "--use-field-description",
    "--keyword-only",
    "--output-datetime-class",
    "datetime",
    "--disable-timestamp",
    "--base-class",
    "kanbert_async._core.model.Model",
    "--formatters",
    "builtin",
]

_DMCG_HEADER = re.compile(r"\A(#[^\n]*\n)+")


def generate_models(spec: Spec, header: str) -> str:
    """Run datamodel-code-generator on ``spec``; any warning it prints fails the build."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "openapi.json"
        target = Path(tmp) / "models.py"
        source.write_text(json.dumps(spec), encoding="utf-8")
        proc = subprocess.run(
            [
                sys.executable,
                "-W",
                "default",
                "-m",
                "datamodel_code_generator",
                "--input",
                str(source),
                "--output",
                str(target),
                *DMCG_ARGS,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or proc.stderr.strip():
            raise SpecError(
                "datamodel-code-generator failed or warned (warnings fail the build):\n" + proc.stderr.strip()
            )
        code = target.read_text(encoding="utf-8")
    return _bind_to_bases(code, header)


def _bind_to_bases(code: str, header: str) -> str:
    """Enums derive from KanbertEnum, which decodes values added after generation instead of failing."""
    code = _DMCG_HEADER.sub("", code)
    code = code.replace("from enum import StrEnum\n", "")
    code = re.sub(r"^class (\w+)\(StrEnum\):", r"class \1(KanbertEnum):", code, flags=re.MULTILINE)
    code = code.replace(
        "from kanbert_async._core.model import Model",
        "from kanbert_async._core.model import KanbertEnum, Model",
    )
    doc = '"""Kanbert\'s data models as msgspec Structs (generated from openapi/)."""\n\n'
    return header + doc + code
