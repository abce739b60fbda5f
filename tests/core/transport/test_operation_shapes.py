"""Operations of every shape the generator emits, over a real loopback server: url-encoded form
bodies, bodiless answers, the documented ``Accept`` of downloads, and each paginator's way of
naming the next page (Laravel's cursor and page-numbered paginators, bare or in a resource
collection) and of taking a page size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from aiohttp import web

from kanbert_async import KanbertClient
from kanbert_async._core.list_args import ListArgs
from kanbert_async._core.operation import Operation, Paging
from tests.core.transport.loopback import LoopbackServer


class Item(msgspec.Struct):
    id: int


class BarePage(msgspec.Struct):
    data: list[Item]
    next_cursor: str | None


class NumberedMeta(msgspec.Struct):
    current_page: int
    last_page: int


class NumberedPage(msgspec.Struct):
    data: list[Item]
    meta: NumberedMeta


class LengthAwarePage(msgspec.Struct):
    data: list[Item]
    current_page: int
    last_page: int


class SimplePage(msgspec.Struct):
    data: list[Item]
    current_page: int
    next_page_url: str | None


async def _run(server: LoopbackServer, route: str, handler: Any) -> str:
    server.route("*", route, handler)
    await server.start()
    return f"http://127.0.0.1:{server.port}"


async def test_a_form_body_is_sent_url_encoded_with_php_arrays(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    seen: dict[str, Any] = {}

    async def store(request: web.Request) -> web.Response:
        seen["type"] = request.content_type
        seen["body"] = await request.text()
        return web.Response(status=201)

    base = await _run(server, "/tags", store)
    op: Operation[None] = Operation(id="tags.store", method="POST", path="/tags", body="form")
    result = await make_client(base).call(op, body={"name": "A&B", "aliases[]": ["x", "y"], "vip": True})
    assert result is None
    assert seen == {
        "type": "application/x-www-form-urlencoded",
        "body": "name=A%26B&aliases%5B%5D=x&aliases%5B%5D=y&vip=1",
    }


async def test_a_download_asks_for_its_documented_type_first_and_json_for_errors(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    async def pdf(request: web.Request) -> web.Response:
        if request.headers["Accept"] != "application/pdf, application/json;q=0.9":
            return web.Response(status=406)
        return web.Response(body=b"%PDF", content_type="application/pdf")

    base = await _run(server, "/offers/1/pdf", pdf)
    op: Operation[bytes] = Operation(
        id="offers.pdf",
        method="GET",
        path="/offers/1/pdf",
        accept="application/pdf, application/json;q=0.9",
    )
    assert await make_client(base).download(op) == b"%PDF"


def _pages(pages: list[bytes], param: str, seen: list[str | None]) -> Any:
    async def handler(request: web.Request) -> web.Response:
        cursor = request.query.get(param)
        seen.append(cursor)
        return web.Response(body=pages[0 if cursor is None else int(cursor.strip("c")) - 1])

    return handler


@pytest.mark.parametrize(
    ("wrapper", "paging", "param", "bodies", "expected_cursors"),
    [
        (
            BarePage,
            Paging(next=("next_cursor",), meta=()),
            "cursor",
            [b'{"data":[{"id":1}],"next_cursor":"c2"}', b'{"data":[{"id":2}],"next_cursor":null}'],
            [None, "c2"],
        ),
        (
            NumberedPage,
            Paging(current=("meta", "current_page"), last=("meta", "last_page")),
            "page",
            [
                b'{"data":[{"id":1}],"meta":{"current_page":1,"last_page":2}}',
                b'{"data":[{"id":2}],"meta":{"current_page":2,"last_page":2}}',
            ],
            [None, "2"],
        ),
        (
            SimplePage,
            Paging(current=("current_page",), more=("next_page_url",), meta=()),
            "page",
            [
                b'{"data":[{"id":1}],"current_page":1,"next_page_url":"/p?page=2"}',
                b'{"data":[{"id":2}],"current_page":2,"next_page_url":null}',
            ],
            [None, "2"],
        ),
    ],
    ids=["bare-cursor-paginator", "length-aware-resource-collection", "simple-paginator"],
)
async def test_every_paginator_shape_is_walked_to_its_last_page(
    server: LoopbackServer,
    make_client: Callable[..., KanbertClient],
    wrapper: type[Any],
    paging: Paging,
    param: str,
    bodies: list[bytes],
    expected_cursors: list[str | None],
) -> None:
    seen: list[str | None] = []
    base = await _run(server, "/posts", _pages(bodies, param, seen))
    op: Operation[Item] = Operation(
        id="post.index",
        method="GET",
        path="/posts",
        response=wrapper,
        cursor_param=param,
        paging=paging,
    )
    items = [item.id async for item in make_client(base).paginate(op)]
    assert items == [1, 2]
    assert seen == expected_cursors
    raw = make_client(base).paginate(op).keep_raw()
    assert [bytes(r) for page in [await raw.first_page()] for r in page.raw or []] == [b'{"id":1}']


async def test_a_json_patch_sends_null_for_none_and_leaves_unset_fields_out(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    seen: list[bytes] = []

    async def update(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.json_response({"id": 1})

    base = await _run(server, "/users/1", update)
    op: Operation[Item] = Operation(
        id="user.update", method="PATCH", path="/users/1", response=Item, body="json"
    )
    body = {"name": msgspec.UNSET, "nickname": None, "role": "admin"}
    assert await make_client(base).call(op, body=body) == Item(id=1)
    assert msgspec.json.decode(seen[0]) == {"nickname": None, "role": "admin"}


async def test_a_page_numbered_listing_sends_page_size_in_its_documented_parameter(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    seen: list[dict[str, str]] = []

    async def pages(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        page = int(request.query.get("page", "1"))
        return web.json_response({"data": [{"id": page}], "current_page": page, "last_page": 2})

    base = await _run(server, "/posts", pages)
    op: Operation[Item] = Operation(
        id="post.pages",
        method="GET",
        path="/posts",
        response=LengthAwarePage,
        cursor_param="page",
        page_size_param="per_page",
        paging=Paging(current=("current_page",), last=("last_page",), meta=()),
    )
    items = [item.id async for item in make_client(base).paginate(op, args=ListArgs(page_size=1))]
    assert items == [1, 2]
    assert seen == [{"per_page": "1"}, {"per_page": "1", "page": "2"}]
