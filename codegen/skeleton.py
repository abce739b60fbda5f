"""The empty generated package ``kanbert_async`` needs before codegen has run once.

Codegen imports runtime types from ``kanbert_async`` (the capability classes it renders), and the
package imports its generated code; so on a tree without generated code, ``python -m codegen``
first writes this skeleton (explicitly, never on import), then regenerates over it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SKELETON", "ensure_skeleton"]

#: The files of the skeleton, relative to ``kanbert_async/_generated/``.
SKELETON = {
    "__init__.py": "",
    "models.py": "",
    "capabilities.py": "CAPABILITIES: dict[str, object] = {}\n",
    "operations.py": "OPERATIONS: dict[str, object] = {}\n",
    "resources/__init__.py": (
        "class ResourcesMixin:\n    def _runner(self):  # type: ignore[no-untyped-def]\n        return self\n"
    ),
}


def ensure_skeleton(generated: Path) -> bool:
    """Write the skeleton into ``generated`` unless generated code is there; whether it wrote one."""
    if (generated / "resources" / "__init__.py").exists():
        return False
    for relative, text in SKELETON.items():
        target = generated / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_text(text, encoding="utf-8")
    return True
