"""``KANBERT_LOG=info|debug``: request logging switched on from the environment, as ``OPENAI_LOG`` does.

The SDK logs on the ``kanbert_async`` logger and configures nothing by default; applications set
it up as any logger (``logging.getLogger("kanbert_async").setLevel(logging.INFO)``). For a quick
look without touching code, ``KANBERT_LOG`` adds a stderr handler at that level when the package
is imported: ``info`` prints one line per request, ``debug`` adds query and headers (credentials
redacted).
"""

from __future__ import annotations

import logging
import os
import warnings

__all__ = ["setup_logging_from_env"]

_LEVELS = {"info": logging.INFO, "debug": logging.DEBUG}


def setup_logging_from_env() -> None:
    """Apply ``KANBERT_LOG`` to the ``kanbert_async`` logger (nothing when it is unset)."""
    value = os.environ.get("KANBERT_LOG", "").strip().lower()
    if not value:
        return
    level = _LEVELS.get(value)
    if level is None:
        warnings.warn(f"KANBERT_LOG={value!r} is ignored; use 'info' or 'debug'", stacklevel=2)
        return
    logger = logging.getLogger("kanbert_async")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
