"""The package's import structure: every module imports on its own, no cycles, ``_core`` stands alone.

Two views, because each catches what the other misses: importing each module first, in a process
of its own, fails on a cycle that only bites in one import order; reading every import statement
(also those inside functions and under ``TYPE_CHECKING``) finds a cycle that a deferred import
merely hides.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kanbert_async"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()

# Each module is imported in a forked child of a process that has loaded every third-party and
# standard module the package uses, but nothing of kanbert_async itself: as fresh as a new
# interpreter where it matters, at a fraction of the cost.
_IMPORT_EACH = """
import importlib, os, sys, traceback
names = sys.argv[1:]
read, write = os.pipe()
if os.fork() == 0:  # a probe: which modules outside the package does importing all of it load?
    for name in names:
        importlib.import_module(name)
    foreign = [m for m in sys.modules if m.split(".")[0] not in ("kanbert_async", "__main__")]
    os.write(write, " ".join(foreign).encode())
    os._exit(0)
os.close(write)
chunks = []
while chunk := os.read(read, 1 << 16):
    chunks.append(chunk)
os.wait()
for module in b"".join(chunks).decode().split():
    try:
        importlib.import_module(module)
    except BaseException:
        pass  # a private module that only imports as part of its parent: loaded with it anyway
failed = []
running = {}
for name in names:
    while len(running) >= (os.cpu_count() or 1):
        pid, status = os.wait()
        if status != 0:
            failed.append(running[pid])
        del running[pid]
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    running[pid] = name
while running:
    pid, status = os.wait()
    if status != 0:
        failed.append(running[pid])
    del running[pid]
print("FAILED:" + ",".join(sorted(failed)))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="uses os.fork")
def test_every_module_imports_first_in_a_fresh_process() -> None:
    names = [n for n in MODULES if n != "kanbert_async.sandbox.__main__"]
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "FAILED:", result.stderr


def _imports(name: str, path: Path) -> Iterator[str]:
    """Every kanbert_async module ``name`` imports, wherever the statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports a module when `mod` is one; otherwise it is a name in pkg.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("kanbert_async") and target != name:
                yield target


GRAPH = {name: set(_imports(name, path)) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycles_not_even_deferred_ones() -> None:
    # A package's __init__ re-exports its modules, and those modules are inside it: that edge is
    # how a package presents itself, not a cycle between two ideas.
    graph = {
        name: {t for t in targets if not (MODULES[name].name == "__init__.py" and t.startswith(name + "."))}
        for name, targets in GRAPH.items()
    }
    assert _cycles(graph) == []


def test_core_imports_nothing_from_outside_core() -> None:
    outside = {
        name: sorted(t for t in targets if not t.startswith("kanbert_async._core"))
        for name, targets in GRAPH.items()
        if name.startswith("kanbert_async._core")
    }
    assert {name: targets for name, targets in outside.items() if targets} == {}


def test_the_graph_reader_sees_the_imports_it_must() -> None:
    # Guards the two tests above against a reader that finds nothing (and so no cycle).
    assert "kanbert_async._core.errors" in GRAPH["kanbert_async._core.transport"]
    assert "kanbert_async._generated.resources" in GRAPH["kanbert_async._client"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


#: What a program that imports the SDK and builds a client must not pay for until it uses it (each
#: with its submodules); the resource modules are the resources package's submodules.
_LOADED_WHEN_USED = (
    "kanbert_async._generated.models",
    "kanbert_async.models",
    "kanbert_async._generated.sync",
    "kanbert_async._sync",
    "kanbert_async.sync",
    "kanbert_async.sandbox",
    "kanbert_async.export",
    "kanbert_async.cli",
    "kanbert_async.pytest_plugin",
    "kanbert_async._core.ratelimit.redis_store",
    "redis",
)
_RESOURCE_MODULES = "kanbert_async._generated.resources."


def _loaded_after(code: str) -> set[str]:
    code += "\nimport sys; print(' '.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return set(result.stdout.split())


def test_importing_the_sdk_and_building_a_client_loads_no_resource_models_sandbox_export_or_cli() -> None:
    loaded = _loaded_after("import kanbert_async; kanbert_async.KanbertClient('token')")
    heavy = {m for m in loaded if any(m == name or m.startswith(name + ".") for name in _LOADED_WHEN_USED)}
    assert heavy | {m for m in loaded if m.startswith(_RESOURCE_MODULES)} == set()


def test_what_is_used_is_loaded_then() -> None:
    loaded = _loaded_after(
        "import kanbert_async\n"
        "kb = kanbert_async.KanbertClient('token')\n"
        "kb.outgoing_invoices\n"
        "kanbert_async.RedisStore\n"
        "import kanbert_async.sandbox, kanbert_async.export, kanbert_async.cli"
    )
    assert {
        _RESOURCE_MODULES + "outgoing_invoices",
        "kanbert_async._core.ratelimit.redis_store",
        "kanbert_async.sandbox",
        "kanbert_async.export",
        "kanbert_async.cli",
    } <= loaded
