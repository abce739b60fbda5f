"""Reading the description's Markdown prose: inline markup removed, names and bullets recognised."""

from __future__ import annotations

import html
import re

__all__ = ["BULLET_RE", "NAME", "NAME_RE", "plain_text"]

NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
NAME_RE = re.compile(NAME)
BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
MD_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]<>()#+\-.!|])")
BULLET_RE = re.compile(r"^\s*(?:[-•*+]|\d+[.)])\s+")


def plain_text(text: str) -> str:
    """Markdown/HTML inline markup removed: entities decoded, ``<br>`` as newlines, no backticks or bold."""
    text = BR_RE.sub("\n", text)
    text = html.unescape(text)
    text = MD_ESCAPE_RE.sub(r"\1", text)  # Markdown's backslash escapes: "\<alias\>" is "<alias>"
    return text.replace("`", "").replace("**", "")
