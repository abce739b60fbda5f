"""Every description of the corpus, generated once per test session into scratch SDKs."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from .scratch import Scratch, make_all


@pytest.fixture(scope="session")
def sdks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Scratch]]:
    generated, aliases = make_all(tmp_path_factory.mktemp("corpus"))
    sys.path.insert(0, str(aliases))
    try:
        yield generated
    finally:
        sys.path.remove(str(aliases))
