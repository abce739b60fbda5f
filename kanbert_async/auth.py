"""Authentication: bearer tokens and OAuth2 (``kanbert_async.auth``); see :mod:`kanbert_async._core.auth`."""

from ._core.auth import *  # noqa: F403
from ._core.auth import __all__ as __all__
