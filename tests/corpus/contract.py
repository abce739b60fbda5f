"""Call every operation of a generated SDK against a server, check each answer's type; a script.

``python -m tests.corpus.contract SPEC BASE_URL [--overlay PATH]``, run with the scratch SDK's
root first on ``PYTHONPATH`` (so ``kanbert_async`` is the package generated from SPEC). Every
operation of the description is called once through ``KanbertClient`` — ``kb.<resource>.<method>``
with valid arguments read from the description's schemas — and its result is checked against the
type the operation documents: a model, a list, a scalar, None for bodiless answers, bytes for
downloads, and pages of items for listings. Prints one JSON line per operation; exits 1 if any
call failed or returned something else than documented.
"""

from __future__ import annotations

import argparse
import asyncio
import builtins
import datetime as dt
import importlib
import inspect
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import msgspec

from codegen.normalize import normalize
from codegen.operations import Op, read_operations
from codegen.rules import apply_rules
from codegen.spec import iter_operations, load_spec
from tests.corpus.values import PDF, parameter_schemas, valid_value

#: Pages read from each listing (a mock's cursors may never end).
PAGES = 2


def _arguments(spec: dict[str, Any], op: Op, schemas: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Positional path arguments and keyword arguments: every required one, files, and a page size."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in op.params:
        if param.location == "path":
            args.append(str(valid_value(spec, schemas.get(param.api_name, {}))))
        elif "FileInput" in param.annotation:
            kwargs[param.py_name] = PDF
        elif param.py_name == "page_size":
            kwargs["page_size"] = 2
        elif param.required:
            value = valid_value(spec, schemas.get(param.api_name, {}))
            kwargs[param.py_name] = (
                value.isoformat() if isinstance(value, dt.date) and param.location == "query" else value
            )
    return args, kwargs


def _conforms(value: Any, expected: Any) -> None:
    """Raise unless ``value`` is of the documented type (re-decoding it proves the shape)."""
    if expected is None:
        if value is not None:
            raise TypeError(f"expected None, got {type(value).__name__}")
        return
    if inspect.isclass(expected) and not isinstance(value, expected):
        raise TypeError(f"expected {expected.__name__}, got {type(value).__name__}")
    msgspec.json.decode(msgspec.json.encode(value), type=expected)


async def _call(kb: Any, op: Op, args: list[Any], kwargs: dict[str, Any]) -> str:
    method = getattr(getattr(kb, op.resource), op.name)
    operation = importlib.import_module("kanbert_async._generated.operations").OPERATIONS[op.operation_id]
    namespace = {
        **vars(builtins),
        **vars(importlib.import_module("kanbert_async._generated.models")),
        "Any": Any,
    }
    if op.paginated:
        assert op.item_model is not None
        item_type = eval(op.item_model, namespace)  # a type expression codegen wrote
        pages = 0
        async for page in method(*args, **kwargs, max_pages=PAGES).pages():
            pages += 1
            for item in page.items:
                _conforms(item, item_type)
        return f"{pages} page(s) of {op.item_model}"
    if op.binary:
        data = await method(*args, **kwargs)
        if not isinstance(data, bytes):
            raise TypeError(f"expected bytes, got {type(data).__name__}")
        return f"{len(data)} bytes"
    result = await method(*args, **kwargs)
    _conforms(result, operation.response)
    return op.response_model or "None"


async def run(spec_path: Path, overlay: Path | None, base_url: str) -> int:
    from kanbert_async import KanbertClient

    spec = apply_rules(normalize(load_spec(spec_path, overlay)))
    models = importlib.import_module("kanbert_async._generated.models")
    names = {
        n
        for n, v in vars(models).items()
        if not n.startswith("_") and (inspect.isclass(v) or n[:1].isupper())
    }
    ops = read_operations(spec, names)
    raw = {o["operationId"]: (o, params) for _path, _method, o, params in iter_operations(spec)}
    failures = 0
    async with KanbertClient("contract-test-token", base_url=base_url, max_retries=0) as kb:
        for op in ops:
            operation, params = raw[op.operation_id]
            args, kwargs = _arguments(spec, op, parameter_schemas(spec, operation, params))
            line: dict[str, Any] = {"operation": op.operation_id, "call": f"kb.{op.resource}.{op.name}"}
            try:
                line["returned"] = await _call(kb, op, args, kwargs)
                line["ok"] = True
            except Exception as exc:  # reported, and the run fails
                failures += 1
                line["ok"] = False
                line["error"] = f"{type(exc).__name__}: {exc}"[:2000]
                line["trace"] = traceback.format_exc(limit=3)[-1500:]
            print(json.dumps(line, default=str), flush=True)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m tests.corpus.contract")
    parser.add_argument("spec", type=Path)
    parser.add_argument("base_url")
    parser.add_argument("--overlay", type=Path, default=None)
    args = parser.parse_args(argv)
    return asyncio.run(run(args.spec, args.overlay, args.base_url))


if __name__ == "__main__":
    sys.exit(main())
