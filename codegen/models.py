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
    # OpenAPI 3.1 enums that list null: an Enum of the values and a `X | None` alias, not a None member.
    "--use-msgspec-nullable-enum-alias",
    # oneOf/anyOf with a discriminator: msgspec tagged unions (untagged Struct unions cannot decode).
    "--use-msgspec-tagged-unions",
    "--output-datetime-class",
    "datetime",
    "--disable-timestamp",
    "--base-class",
    "kanbert_async._core.model.Model",
    "--formatters",
    "builtin",
]

_DMCG_HEADER = re.compile(r"\A(#[^\n]*\n)+")
#: ``class X(Enum):`` whose members are all string values.
_STRING_ENUM = re.compile(r"^class \w+\(Enum\):\n(?:    \w+ = '[^'\n]*'\n)+", re.MULTILINE)


def _enum_imports(code: str) -> str:
    """``from enum import …`` with only the names still used once string enums derive from KanbertEnum."""
    body = re.sub(r"^from enum import .*\n", "", code, flags=re.MULTILINE)
    used = [name for name in ("Enum", "IntEnum", "StrEnum") if re.search(rf"\({name}\)", body)]
    if not used:
        return body
    future = "from __future__ import annotations\n"
    return body.replace(future, f"{future}\nfrom enum import {', '.join(used)}\n", 1)


def model_names(code: str) -> set[str]:
    """The types a models module defines: classes and type aliases."""
    return set(re.findall(r"^class (\w+)\(", code, flags=re.MULTILINE)) | set(
        re.findall(r"^(\w+): TypeAlias = ", code, flags=re.MULTILINE)
    )


def generate_models(spec: Spec, header: str) -> str:
    """Run datamodel-code-generator on ``spec``; any warning it prints fails the build.

    A description without ``components.schemas`` (all its responses bodiless, binary or scalar)
    gets an empty models module: the generator would stop at "Models not found".
    """
    if not spec.get("components", {}).get("schemas"):
        return _bind_to_bases("", header)
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
    code = re.sub(r"^class (\w+)\(StrEnum\):", r"class \1(KanbertEnum):", code, flags=re.MULTILINE)
    # The Enum half of a nullable enum's alias: a KanbertEnum too when its values are strings.
    code = _STRING_ENUM.sub(lambda m: m.group(0).replace("(Enum):", "(KanbertEnum):", 1), code)
    code = _enum_imports(code)
    code = code.replace(
        "from kanbert_async._core.model import Model",
        "from kanbert_async._core.model import KanbertEnum, Model",
    )
    doc = '"""Kanbert\'s data models as msgspec Structs (generated from openapi/)."""\n\n'
    return header + doc + code
