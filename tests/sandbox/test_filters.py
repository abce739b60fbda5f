"""Filters: the JSON and DSL formats mean the same, match an independent oracle, and refuse garbage."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from kanbert_async.filters import F, encode_filter
from kanbert_async.sandbox import Sandbox

from .conftest import SMALL, Api

NOW = datetime(2024, 6, 15, 12, 30, tzinfo=UTC)  # a Saturday


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    # Dates anchored around the fixed clock, so relative specials (today-30d, som) select something.
    async with Sandbox(invoices=SMALL, seed=7, anchor_date=date(2024, 6, 30), clock=lambda: NOW) as sb:
        yield sb


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def dec(value: float) -> Decimal:
    return Decimal(repr(value))


async def ids(api: Api, flt: str | None, path: str = "/outgoing-invoices", **params: str) -> list[str]:
    query = {"page[size]": "200", **params}
    if flt is not None:
        query["filter"] = flt
    return [item["id"] for page in await api.pages(path, query) for item in page]


def j(*conditions: Any) -> str:
    return json.dumps(list(conditions))


def c(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


Oracle = Callable[[Any, Any], bool]  # (store, invoice record) -> matches


def _lines(store: Any, r: Any) -> list[Any]:
    return [li.model for li in store.line_items(r)]


CASES: list[tuple[str, str, Oracle]] = [
    (
        j(c("title", "contains", "SUPPORT")),
        'title contains "support"',
        lambda s, r: "support" in fold(r.model.title),
    ),
    (
        j(c("date_of_invoice", "gte", "2023-01-01"), c("date_of_invoice", "lt", "2023-04-01")),
        'date_of_invoice >= "2023-01-01" and date_of_invoice < "2023-04-01"',
        lambda s, r: date(2023, 1, 1) <= r.model.date_of_invoice.date() < date(2023, 4, 1),
    ),
    (
        j(c("status", "in", ["booked", "bookable"])),
        "status in ['booked', 'bookable']",
        lambda s, r: r.model.status.value in ("booked", "bookable"),
    ),
    (
        j(c("payment_status", "notin", ["paid", "open"])),
        'payment_status not in ("paid", "open")',
        lambda s, r: r.model.payment_status.value not in ("paid", "open"),
    ),
    (j(c("invoice_number", "isnull")), "invoice_number is null", lambda s, r: r.model.invoice_number is None),
    (
        j(c("invoice_number", "notnull"), c("is_credit", "eq", True)),
        "invoice_number IS NOT NULL AND is_credit = true",
        lambda s, r: r.model.invoice_number is not None and r.model.is_credit,
    ),
    (
        json.dumps(
            {
                "and": [
                    {"or": [c("sum_net", "gt", 5000), c("client.name", "startswith", "acme")]},
                    c("payment_status", "neq", "paid"),
                ]
            }
        ),
        '(sum_net > 5000 or client.name startswith "ACME") and payment_status != "paid"',
        lambda s, r: (
            (r.model.sum_net > 5000 or fold(r.model.client.name).startswith("acme"))
            and r.model.payment_status.value != "paid"
        ),
    ),
    (
        j(c("line_items", "any", [c("total_net", "gt", 1000)])),
        "line_items any (total_net > 1000)",
        lambda s, r: any(li.total_net > 1000 for li in _lines(s, r)),
    ),
    (j(c("line_items", "none", [])), "line_items none", lambda s, r: not _lines(s, r)),
    (
        j(c("line_items", "none", [c("type", "eq", "category")])),
        'line_items none (type eq "category")',
        lambda s, r: all(li.type.value != "category" for li in _lines(s, r)),
    ),
    (
        j(c("line_items", "count", {"op": "gte", "value": 2, "filter": [c("title", "contains", "support")]})),
        'line_items count (title contains "support") >= 2',
        lambda s, r: sum("support" in fold(li.title) for li in _lines(s, r)) >= 2,
    ),
    (
        j(c("line_items", "count", {"op": "gt", "value": 10})),
        "line_items count > 10",
        lambda s, r: len(_lines(s, r)) > 10,
    ),
    (
        j(c("external_costs", "all", [c("amount", "gte", 2)])),
        "external_costs all (amount >= 2)",
        lambda s, r: all(x.amount >= 2 for x in s.external_costs(r)),
    ),
    (
        j(c("editor.id", "eq", "me.id")),
        "editor.id eq me.id",
        lambda s, r: r.model.editor is not None and r.model.editor.id == s.me.id,
    ),
    (
        j(c("date_of_invoice", "gte", "today-30d")),
        "date_of_invoice >= today-30d",
        lambda s, r: r.model.date_of_invoice.date() >= NOW.date() - timedelta(days=30),
    ),
    (
        j(c("date_of_invoice", "gte", "som"), c("date_of_invoice", "lte", "eom")),
        "date_of_invoice >= som and date_of_invoice <= eom",
        lambda s, r: date(2024, 6, 1) <= r.model.date_of_invoice.date() <= date(2024, 6, 30),
    ),
    (
        j(c("payment_due_date", "lt", "now")),
        "payment_due_date < now",
        lambda s, r: r.model.payment_due_date.date() < NOW.date(),
    ),
    (
        j(c("title", "like", "%relaunch%2023")),
        "title like '%relaunch%2023'",
        lambda s, r: re.fullmatch(".*relaunch.*2023", fold(r.model.title)) is not None,
    ),
    (
        j(c("sum_net", "contains", ".5")),
        'sum_net contains ".5"',
        lambda s, r: ".5" in f"{dec(r.model.sum_net):.2f}",
    ),
    (
        j(c("sum_net", "le", 100), c("sum_gross", "ge", -50.5)),
        "sum_net <= 100 and sum_gross GE -50.5",
        lambda s, r: dec(r.model.sum_net) <= 100 and dec(r.model.sum_gross) >= Decimal("-50.5"),
    ),
    (
        j(c("client.external_id", "isnull")),
        "client.external_id is null",
        lambda s, r: r.model.client.external_id is None,
    ),
    (
        j(c("editor.external_id", "startswith", "hr-")),
        "editor.external_id startswith 'HR-'",
        lambda s, r: (
            r.model.editor is not None and (s.user_external_id(r.model.editor.id) or "").startswith("HR-")
        ),
    ),
    (
        j(c("company.company_name", "endswith", "GMBH")),
        'company.company_name endswith "gmbh"',
        lambda s, r: (
            r.model.company is not None and fold(r.model.company.company_name or "").endswith("gmbh")
        ),
    ),
    (
        j(c("project.id", "ne", "nope")),
        'project.id != "nope"',
        lambda s, r: r.model.project is not None,  # SQL: NULL != x is not true
    ),
]


@pytest.mark.parametrize(("as_json", "as_dsl", "oracle"), CASES, ids=[case[1] for case in CASES])
async def test_json_and_dsl_agree_with_the_oracle(
    api: Api, as_json: str, as_dsl: str, oracle: Oracle
) -> None:
    store = api.sandbox.store
    expected = sorted(r.model.id for r in store.invoice_records() if oracle(store, r))
    from_json = sorted(await ids(api, as_json))
    from_dsl = sorted(await ids(api, as_dsl))
    assert from_json == from_dsl == expected
    assert 0 < len(expected) < SMALL or as_dsl in ("invoice_number is null",), (
        "the case should select something"
    )


async def test_date_fields_compare_on_the_date_part(api: Api) -> None:
    store = api.sandbox.store
    day = Counter(i.date_of_invoice.date() for i in store.invoices()).most_common(1)[0][0]
    expected = sorted(i.id for i in store.invoices() if i.date_of_invoice.date() == day)
    late = f"{day.isoformat()}T23:59:59+00:00"
    assert sorted(await ids(api, j(c("date_of_invoice", "eq", late)))) == expected
    assert sorted(await ids(api, f"date_of_invoice = '{day.isoformat()}T00:00:01Z'")) == expected
    assert sorted(await ids(api, f'date_of_invoice in ["{day.isoformat()}"]')) == expected
    before = await ids(api, f"date_of_invoice < '{late}'")
    assert not set(before) & set(expected)


async def test_sdk_filters_are_understood(api: Api) -> None:
    flt = (F("status") == "booked") & ((F("sum_net") > 1000) | F("line_items").any(F("total_net") > 500))
    counted = F("line_items").count(F("amount") >= 2) >= 1
    for node in (flt, counted, F("date_of_invoice").gte(date(2023, 1, 1)), F("editor.id").is_not_null()):
        encoded = encode_filter(node)
        assert encoded is not None
        await api.json("/outgoing-invoices", {"filter": encoded})


HOSTILE = [
    ('title eq "\\") or (1 = 1"', '") or (1 = 1'),
    ("title eq '\") or (1 = 1'", '") or (1 = 1'),
    ('title contains "\\\\ backslash"', 'Quote "Alpha" with \\ backslash'),
    ('title contains "\\"alpha\\""', 'Quote "Alpha" with \\ backslash'),
    ("title contains 'O\\'Brien'", "O'Brien's retainer"),
    ('title contains "STRASSE"', "Ünïcødé ✓ Straße – 日本語"),
    ('title contains "日本語"', "Ünïcødé ✓ Straße – 日本語"),
    ('title contains "UNIC"', "Ünïcødé ✓ Straße – 日本語"),
    ('title contains "ÜNÏCØDÉ"', "Ünïcødé ✓ Straße – 日本語"),
    ('title contains "100%"', "100% done_with wildcards"),
    ('title like "100\\\\% done\\\\_%"', "100% done_with wildcards"),
]


@pytest.mark.parametrize(("dsl", "title"), HOSTILE)
async def test_hostile_values_match_literally(api: Api, dsl: str, title: str) -> None:
    found = await ids(api, dsl)
    titles = {i.id: i.title for i in api.sandbox.store.invoices()}
    assert [titles[i] for i in found] == [title]
    as_json = j(c("title", "contains" if "contains" in dsl else "eq", title))
    assert await ids(api, as_json) == found


async def test_archived_modes(api: Api) -> None:
    store = api.sandbox.store
    every = {r.model.id for r in store.invoice_records("with")}
    archived = {r.model.id for r in store.invoice_records("only")}
    assert archived and archived < every
    assert set(await ids(api, None)) == every - archived
    assert set(await ids(api, "archived eq with")) == every
    assert set(await ids(api, j(c("archived", "eq", "only")))) == archived
    assert set(await ids(api, 'archived = "only" and is_credit = false')) == {
        r.model.id for r in store.invoice_records("only") if not r.model.is_credit
    }
    for bad in ("archived eq sometimes", "is_credit = true or archived = with", "archived ne with"):
        await api.json("/outgoing-invoices", {"filter": bad}, status=400)


async def test_computed_fields(api: Api) -> None:
    store = api.sandbox.store
    params = {
        "computed_fields[items]": "line_items.count()",
        "computed_fields[big]": 'line_items.sum(total_net, type eq "unit" and amount > 2)',
        "computed_fields[costs]": "external_costs.count()",
        "sort": "-computed_fields.items,title",
        "filter": "computed_fields.items >= 3",
        "page[size]": "200",
    }
    pages = await api.pages("/outgoing-invoices", params)
    data = [item for page in pages for item in page]
    records = {r.model.id: r for r in store.invoice_records()}
    for item in data:
        lines = _lines(store, records[item["id"]])
        assert item["computed_fields"]["items"] == len(lines) >= 3
        big = sum(dec(li.total_net) for li in lines if li.type.value == "unit" and li.amount > 2)
        assert Decimal(str(item["computed_fields"]["big"])) == big
        assert item["computed_fields"]["costs"] == len(store.external_costs(records[item["id"]]))
    counts = [item["computed_fields"]["items"] for item in data]
    assert counts == sorted(counts, reverse=True)
    assert len(data) == sum(1 for r in records.values() if len(store.line_items(r)) >= 3)
    # Bare aliases still work (deprecated), and a filter in JSON can use the field too.
    bare = await api.json(
        "/outgoing-invoices",
        {
            "computed_fields[n]": "line_items.count()",
            "sort": "-n",
            "filter": j(c("computed_fields.n", "gt", 100)),
        },
    )
    assert bare["data"] and all(i["computed_fields"]["n"] > 100 for i in bare["data"])
    plain = await api.json("/outgoing-invoices", {"page[size]": "1"})
    assert "computed_fields" not in plain["data"][0]


@pytest.mark.parametrize(
    "params",
    [
        {"computed_fields[x]": "tasks.count()"},
        {"computed_fields[x]": "line_items.median(total_net)"},
        {"computed_fields[x]": "line_items.sum(title)"},
        {"computed_fields[x]": "line_items.count(nope eq 1)"},
        {"computed_fields[x]": "line_items"},
        {"filter": "computed_fields.undeclared > 1"},
        {"sort": "computed_fields.undeclared"},
    ],
)
async def test_bad_computed_fields_are_400(api: Api, params: dict[str, str]) -> None:
    body = await api.json("/outgoing-invoices", params, status=400)
    assert body["message"]


@pytest.mark.parametrize(
    ("flt", "fragment"),
    [
        ('nope eq "x"', "`nope`"),
        ('status contains "book"', "Operator `contains` is not allowed for filter `status`"),
        ("title contains", "ends"),
        ('(title eq "x"', "expected ')'"),
        ('title eq "unterminated', "unterminated string"),
        ('title ~ "x"', "unexpected"),
        ('title eq "a" xor title eq "b"', "expected 'and', 'or'"),
        ('[{"field": "title"', "JSON"),
        ('[{"field": "title", "op": "eq", "value": "x", "extra": 1}]', "unknown keys"),
        ('{"xor": []}', "group"),
        ('date_of_invoice eq "yesterday"', "expected a date"),
        ('sum_net > "lots"', "expected a number"),
        ("is_credit eq maybe", "true or false"),
        ('title any (title eq "x")', "Operator `any` is not allowed for filter `title`"),
        ("line_items eq 3", "Allowed operators are `all, any, count, none`"),
        ('line_items any (nope eq "x")', "in relation `line_items`"),
        ('line_items count (title eq "x") >= many', "whole number"),
    ],
)
async def test_bad_filters_are_400_with_a_message(api: Api, flt: str, fragment: str) -> None:
    body = await api.json("/outgoing-invoices", {"filter": flt}, status=400)
    assert set(body) == {"message"}
    assert fragment in body["message"]


async def test_sort_and_include_errors_are_400(api: Api) -> None:
    body = await api.json("/outgoing-invoices", {"sort": "-nope"}, status=400)
    assert body["message"].startswith("Requested sort(s) `nope` is not allowed.")
    body = await api.json("/outgoing-invoices", {"include": "line_items,tasks"}, status=400)
    assert body["message"].startswith("Requested include(s) `tasks` are not allowed.")


async def test_form_encoded_filter(api: Api) -> None:
    form = {
        "filter[0][field]": "status",
        "filter[0][op]": "eq",
        "filter[0][value]": "booked",
        "filter[1][field]": "sum_net",
        "filter[1][op]": "gt",
        "filter[1][value]": "2500",
    }
    expected = await ids(api, 'status eq "booked" and sum_net > 2500')
    assert await ids(api, None, **form) == expected
    assert expected


async def test_line_item_and_master_filters(api: Api) -> None:
    store = api.sandbox.store
    record = max(store.invoice_records(), key=lambda r: r.plan.lines)
    path = f"/outgoing-invoices/{record.model.id}/line-items"
    found = await ids(api, 'type eq "unit" and total_net > 100 and metric.title eq "hour"', path)
    expected = [
        li.id
        for li in store.invoice_line_items(record.model.id)
        if li.type.value == "unit" and li.total_net > 100 and li.metric.title == "Hour"
    ]
    assert found == expected and expected
    assert (
        await ids(
            api,
            j(c("type", "in", ["unit"]), c("total_net", "gt", 100), c("metric.title", "eq", "HOUR")),
            path,
        )
        == expected
    )
    await api.json(path, {"filter": "date_of_invoice > '2024-01-01'"}, status=400)
    masters = await ids(
        api, 'client.name contains "a" or title startswith "partial"', "/outgoing-invoices/master"
    )
    assert sorted(masters) == sorted(
        m.id
        for m in store.masters()
        if (m.client is not None and "a" in fold(m.client.name)) or fold(m.title).startswith("partial")
    )


async def test_special_values_follow_the_clock(session: aiohttp.ClientSession) -> None:
    moments = [datetime(2024, 6, 15, 12, tzinfo=UTC)]
    async with Sandbox(
        invoices=100, seed=3, date_skew="one_day", anchor_date=date(2024, 6, 15), clock=lambda: moments[0]
    ) as sb:
        api = Api(sb, session, sb.token)
        assert len(await ids(api, "date_of_invoice eq today")) == len(sb.store.invoices())
        moments[0] += timedelta(days=1)
        assert await ids(api, "date_of_invoice eq today") == []
        assert len(await ids(api, "date_of_invoice eq today-1d")) == len(sb.store.invoices())
