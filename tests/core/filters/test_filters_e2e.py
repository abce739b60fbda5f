"""Filters built with F(...) select, through a real server, exactly what the DSL does — and hostile
values are data, never syntax."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from kanbert_async import F, InvalidRequestError, KanbertClient
from kanbert_async.filters import Filter
from kanbert_async.sandbox import Sandbox

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(invoices=300, seed=8) as sb:
        yield sb


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def kb(sandbox: Sandbox) -> AsyncIterator[KanbertClient]:
    async with KanbertClient(sandbox.token, base_url=sandbox.base_url) as client:
        yield client


async def _ids(kb: KanbertClient, filter: Filter | str) -> set[str]:
    return {inv.id async for inv in kb.outgoing_invoices.list(filter=filter, page_size=200)}


EQUIVALENTS: list[tuple[Filter, str]] = [
    (F("status") == "booked", 'status eq "booked"'),
    (F("status").in_(["open", "booked"]), "status in ['open', 'booked']"),
    (
        (F("date_of_invoice") >= dt.date(2024, 1, 1)) & (F("date_of_invoice") < dt.date(2024, 7, 1)),
        'date_of_invoice >= "2024-01-01" and date_of_invoice < "2024-07-01"',
    ),
    (
        F("title").contains("a") | F("client.name").startswith("B"),
        'title contains "a" or client.name startswith "B"',
    ),
    (F("project.id").is_null(), "project.id is null"),
    (F("sum_gross") > 1000, "sum_gross > 1000"),
    (F("is_credit") == True, "is_credit eq true"),  # noqa: E712
]


@pytest.mark.parametrize(("built", "dsl"), EQUIVALENTS, ids=[d for _, d in EQUIVALENTS])
async def test_the_builder_selects_the_same_records_as_the_dsl(
    kb: KanbertClient, built: Filter, dsl: str
) -> None:
    via_builder, via_dsl = await _ids(kb, built), await _ids(kb, dsl)
    assert via_builder == via_dsl
    assert via_builder, "the filter matched nothing; the comparison proved little"


HOSTILE = [
    '") or (1 = 1',
    "' or 'x'='x",
    'a "quoted" and (nested) or title',
    "Grüße 🚀 ünïcødé",
    "\\",
    "x" * 255,
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hostile_ids(kb: KanbertClient) -> dict[str, str]:
    ids = {}
    client = (await kb.outgoing_invoices.list(page_size=1).first_page()).items[0].client
    for n, title in enumerate(HOSTILE):
        created = await kb.outgoing_invoices.create_external(
            client_id=client.id,
            title=title,
            status="booked",
            invoice_number=f"HOSTILE-{n}",
            date_of_invoice=dt.datetime(2024, 3, 1, tzinfo=dt.UTC),
            performance_range_start=dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
            performance_range_end=dt.datetime(2024, 2, 29, tzinfo=dt.UTC),
            payment_due_date=dt.datetime(2024, 3, 15, tzinfo=dt.UTC),
            currency="EUR",
            sum_net=10.0,
            file=b"%PDF-1.4 hostile",
        )
        ids[title] = created.id
    return ids


@pytest.mark.parametrize("title", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_values_match_literally(
    kb: KanbertClient, sandbox: Sandbox, hostile_ids: dict[str, str], title: str
) -> None:
    # The sandbox's own data holds some of these titles too; exactly the records titled so match.
    same_title = {i.id for i in sandbox.store.invoices() if i.title == title}
    assert hostile_ids[title] in same_title
    assert await _ids(kb, F("title") == title) == same_title


async def test_a_long_value_is_sent_whole_and_matches_only_itself(kb: KanbertClient) -> None:
    assert await _ids(kb, F("title") == "x" * 3000) == set()


async def test_an_unknown_field_is_refused_before_sending_listing_the_allowed_ones(kb: KanbertClient) -> None:
    with pytest.raises(InvalidRequestError, match=r"unknown filter field 'titel'.*title"):
        kb.outgoing_invoices.list(filter=F("titel") == "x")


async def test_an_operator_the_field_does_not_allow_is_refused(kb: KanbertClient) -> None:
    with pytest.raises(
        InvalidRequestError,
        match=r"'contains' is not allowed on filter field 'is_credit'.*Allowed operators: eq",
    ):
        kb.outgoing_invoices.list(filter=F("is_credit").contains("x"))
