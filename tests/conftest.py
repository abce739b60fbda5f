"""What every test shares: the ``kanbert_async`` logger as each test found it.

The ``kanbert-async`` command configures logging for its process, as an entry point does: its
own stderr handler on the ``kanbert_async`` logger, which then stops propagating to the root
logger. Tests run the command in-process (``cli.main([...])``), so without this fixture that
configuration would outlive the test and hide the SDK's log records from ``caplog`` in every
later test (``tests/core/test_oauth.py::test_no_token_appears_in_logs`` failed after the CLI tests).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _sdk_logger_restored() -> Iterator[None]:
    logger = logging.getLogger("kanbert_async")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    for handler in logger.handlers:
        if handler not in handlers:
            logger.removeHandler(handler)
            handler.close()
    logger.setLevel(level)
    logger.propagate = propagate
