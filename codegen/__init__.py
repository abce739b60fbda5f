"""Build-time code generator: ``openapi/`` in, ``kanbert_async/_generated/`` out. Never imported at runtime.

Codegen imports runtime types from ``kanbert_async`` (the capability classes it renders), and the
package imports its generated code; so on a tree without generated code, write an empty skeleton
first. Regeneration replaces it.
"""

from __future__ import annotations

from pathlib import Path

_GENERATED = Path(__file__).resolve().parent.parent / "kanbert_async" / "_generated"
_SKELETON = {
    "__init__.py": "",
    "models.py": "",
    "capabilities.py": "CAPABILITIES: dict[str, object] = {}\n",
    "resources/__init__.py": (
        "class ResourcesMixin:\n    def _runner(self):  # type: ignore[no-untyped-def]\n        return self\n"
    ),
}


def _bootstrap() -> None:
    if (_GENERATED / "resources" / "__init__.py").exists():
        return
    for relative, text in _SKELETON.items():
        target = _GENERATED / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_text(text, encoding="utf-8")


_bootstrap()
