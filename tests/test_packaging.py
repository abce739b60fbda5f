"""What PyPI and a user see of the package: metadata that is true and complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

from trove_classifiers import classifiers as known_classifiers

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]


def test_classifiers_exist_on_pypi_and_say_typed_asyncio_aiohttp_and_the_python_versions() -> None:
    classifiers = PROJECT["classifiers"]
    assert set(classifiers) <= known_classifiers, set(classifiers) - known_classifiers
    for wanted in ("Typing :: Typed", "Framework :: AsyncIO", "Framework :: aiohttp"):
        assert wanted in classifiers
    floor = PROJECT["requires-python"].removeprefix(">=")
    assert f"Programming Language :: Python :: {floor}" in classifiers


def test_the_license_file_is_the_license_the_metadata_names() -> None:
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert text.startswith("MIT License") and 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"])  # PEP 639: one source


def test_extras_are_only_what_users_install_and_tools_are_dependency_groups() -> None:
    assert set(PROJECT["optional-dependencies"]) == {"parquet", "redis"}
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["dependency-groups"]
    assert {"test", "dev", "bench"} <= set(groups)
    assert {"include-group": "test"} in groups["dev"]


def test_the_readme_starts_with_the_install_line_then_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert readme.index("pip install kanbert-async") < readme.index("make demo") < readme.index("make test")
    assert readme.index("pip install kanbert-async") < readme.index("## ")
