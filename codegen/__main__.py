"""``python -m codegen [--check] [--spec PATH] [--overlay PATH]``.

Writes ``kanbert_async/_generated/`` from ``openapi/``; with ``--check``, writes nothing and exits 1,
naming the files, when the generated code on disk is stale.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from codegen.models import generate_models, model_names
from codegen.normalize import normalize
from codegen.operations import read_operations
from codegen.render_resources import (
    HEADER,
    group_by_resource,
    render_capabilities_module,
    render_resource,
    render_resources_init,
)
from codegen.rules import apply_rules
from codegen.spec import OVERLAY_PATH, ROOT, SPEC_PATH, SpecError, load_spec

OUTPUT = ROOT / "kanbert_async" / "_generated"


def render(spec_path: Path, overlay_path: Path | None) -> tuple[dict[str, str], list[str]]:
    """Every generated file (relative path → text) and the warnings met on the way."""
    spec = apply_rules(normalize(load_spec(spec_path, overlay_path)))
    models_code = generate_models(spec, HEADER)
    models = model_names(models_code)
    ops = read_operations(spec, models)
    grouped = group_by_resource(ops)
    files = {
        "__init__.py": HEADER + '"""Code generated from openapi/: models, capabilities and resources."""\n',
        "models.py": models_code,
        "capabilities.py": render_capabilities_module(ops),
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


def _stale(fresh: Path, current: Path) -> list[str]:
    fresh_files = {p.relative_to(fresh) for p in fresh.rglob("*.py")}
    current_files = {p.relative_to(current) for p in current.rglob("*.py")} if current.exists() else set()
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
