"""The pytest plugin, as a user meets it: installed by the package, fixtures bound to a sandbox, bad
days switched on per test and undone after it. The README's "Testing your code" example runs as is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_files() -> dict[str, str]:
    """The README's "Testing your code" code blocks that open with ``# <file>.py``."""
    section = README.read_text("utf-8").split("## Testing your code", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(# (\w+\.py)\n.*?)```", section, flags=re.DOTALL)
    return {name: text for text, name in blocks}


def _run(pytester: pytest.Pytester, files: dict[str, str], *args: str) -> pytest.RunResult:
    for name, text in files.items():
        pytester.makepyfile(**{name.removesuffix(".py"): text})
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", *args)


def test_the_readmes_example_passes_as_written(pytester: pytest.Pytester) -> None:
    files = _readme_files()
    assert {"conftest.py", "test_report.py"} <= set(files), files.keys()
    result = _run(pytester, files)
    result.assert_outcomes(passed=3)


def test_a_markers_bad_day_is_this_tests_alone_and_counters_start_at_zero(pytester: pytest.Pytester) -> None:
    tests = """
import pytest
from kanbert_async import InternalServerError

@pytest.mark.kanbert_sandbox(error_rate=1.0)
async def test_every_request_fails(kanbert_client):
    with pytest.raises(InternalServerError):
        await kanbert_client.with_options(max_retries=0).outgoing_invoices.list().first_page()

def test_the_next_test_has_a_good_day(kanbert_sync_client, kanbert_sandbox):
    assert kanbert_sandbox.counters.requests == {}
    kanbert_sandbox.fail_next(5, "error")
    kanbert_sandbox.reconfigure(latency=0.2)

def test_and_so_does_the_one_after(kanbert_sync_client, kanbert_sandbox):
    import time
    started = time.monotonic()
    page = kanbert_sync_client.with_options(max_retries=0).outgoing_invoices.list().first_page()
    assert len(page.items) == 30 and time.monotonic() - started < 0.2

@pytest.mark.kanbert_sandbox(invoices=7, seed=3)
def test_data_options_get_a_sandbox_of_their_own(kanbert_sync_client, kanbert_sandbox):
    listed = kanbert_sync_client.outgoing_invoices.list().to_list()
    assert len(listed) == len(kanbert_sandbox.store.invoices())
    assert kanbert_sandbox.config.invoices == 7

@pytest.mark.kanbert_sandbox(invoicez=7)
def test_a_misspelt_option_is_a_usage_error(kanbert_sandbox):
    pass
"""
    result = _run(pytester, {"test_days.py": tests})
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*kanbert_sandbox*invoicez*"])


def test_the_plugin_is_registered_by_the_packages_entry_point() -> None:
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group="pytest11") if ep.value == "kanbert_async.pytest_plugin"]
    assert len(found) == 1
