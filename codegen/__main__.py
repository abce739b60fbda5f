"""``python -m codegen [--check] [--spec PATH] [--overlay PATH]``.

Writes ``kanbert_async/_generated/`` from ``openapi/``; with ``--check``, writes nothing and exits 1,
naming the files, when the generated code on disk is stale.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from codegen.skeleton import ensure_skeleton
from codegen.spec import OVERLAY_PATH, ROOT, SPEC_PATH, SpecError, load_spec

OUTPUT = ROOT / "kanbert_async" / "_generated"


def render(spec_path: Path, overlay_path: Path | None) -> tuple[dict[str, str], list[str]]:
    """Every generated file (relative path → text) and the warnings met on the way.

    Needs ``kanbert_async`` importable (codegen renders its capability classes): see :func:`main`.
    """
    # Imported here, not at the top: they import kanbert_async, which imports its generated code,
    # and main() first makes sure there is some (ensure_skeleton).
    from codegen.models import generate_models, model_names
    from codegen.normalize import normalize
    from codegen.operations import read_operations
    from codegen.render_operations import render_operations_module
    from codegen.render_resources import (
        HEADER,
        group_by_resource,
        render_capabilities_module,
        render_resource,
        render_resources_init,
    )
    from codegen.rules import apply_rules

    described = load_spec(spec_path, overlay_path)
    spec = apply_rules(normalize(described))
    models_code = generate_models(spec, HEADER)
    models = model_names(models_code)
    ops = read_operations(spec, models)
    grouped = group_by_resource(ops)
    files = {
        "__init__.py": HEADER + '"""Code generated from openapi/: models, capabilities and resources."""\n',
        "models.py": models_code,
        "capabilities.py": render_capabilities_module(ops),
        "operations.py": render_operations_module(ops),
        # The description itself (with the overlay's corrections, before codegen reads anything
        # into it), for the sandbox to validate requests by: a misreading here cannot agree with it.
        "description.json": json.dumps(described, indent=1, ensure_ascii=False) + "\n",
        "resources/__init__.py": render_resources_init(grouped),
    }
    for resource, resource_ops in grouped.items():
        files[f"resources/{resource}.py"] = render_resource(resource, resource_ops)
    warnings = [w for op in ops for w in op.warnings]
    return files, warnings


def _format(directory: Path) -> None:
    ruff = [sys.executable, "-m", "ruff"]
    common = ["--isolated", "--line-length", "110", "--target-version", "py311"]
    subprocess.run(
        [*ruff, "check", "--quiet", *common, "--select", "I,F401", "--fix", str(directory)], check=True
    )
    subprocess.run([*ruff, "format", "--quiet", *common, str(directory)], check=True)


def _files(directory: Path) -> set[Path]:
    if not directory.exists():
        return set()
    return {
        p.relative_to(directory)
        for p in directory.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".json")
    }


def _stale(fresh: Path, current: Path) -> list[str]:
    fresh_files = _files(fresh)
    current_files = _files(current)
    stale = [str(p) for p in sorted(fresh_files ^ current_files)]
    stale += [
        str(p) for p in sorted(fresh_files & current_files) if not filecmp.cmp(fresh / p, current / p, False)
    ]
    return sorted(stale)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if kanbert_async/_generated is stale")
    parser.add_argument("--spec", type=Path, default=SPEC_PATH)
    parser.add_argument("--overlay", type=Path, default=OVERLAY_PATH)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    # On a tree without generated code kanbert_async cannot be imported; an empty skeleton lets
    # codegen import it (and is replaced below). Written only when missing, and only here.
    ensure_skeleton(OUTPUT)
    try:
        files, warnings = render(args.spec, args.overlay)
    except SpecError as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"codegen warning: {warning}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "_generated"
        for relative, text in files.items():
            target = fresh / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        _format(fresh)
        stale = _stale(fresh, args.output)
        if args.check:
            if stale:
                print("codegen: generated code is stale; run `make generate`. Stale files:", file=sys.stderr)
                for name in stale:
                    print(f"  {args.output / name}", file=sys.stderr)
                return 1
            return 0
        if args.output.exists():
            shutil.rmtree(args.output)
        shutil.copytree(fresh, args.output)
    print(
        f"codegen: wrote {len(files)} files to {args.output}" + (f" ({len(stale)} changed)" if stale else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
