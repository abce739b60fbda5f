"""The exception hierarchy (``kanbert_async.errors``); see :mod:`kanbert_async._core.errors`."""

from ._core.errors import *  # noqa: F403
from ._core.errors import __all__ as __all__
