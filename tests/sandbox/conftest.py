"""Fixtures of the sandbox tests: a small sandbox and a raw aiohttp client with its token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from kanbert_async.sandbox import Sandbox

#: Small enough to start in ~50 ms, big enough to hold every enum value and the tricky titles.
SMALL = 300


class Api:
    """A raw HTTP client for one sandbox: paths are relative to the API's base URL."""

    def __init__(self, sandbox: Sandbox, session: aiohttp.ClientSession, token: str) -> None:
        self.sandbox = sandbox
        self.session = session
        self.token = token

    def url(self, path: str) -> URL:
        # encoded=True: the path is sent exactly as written (ids are percent-encoded by the caller).
        return URL(self.sandbox.base_url + path, encoded=True)

    async def get(
        self, path: str, params: dict[str, str] | None = None, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        url = self.url(path)
        if params:
            url = url.update_query(params)
        response = await self.session.get(url, headers=headers, **kwargs)
        await response.read()
        return response

    async def json(self, path: str, params: dict[str, str] | None = None, status: int = 200) -> Any:
        response = await self.get(path, params)
        assert response.status == status, (response.status, await response.text())
        assert response.content_type == "application/json"
        return await response.json()

    async def post(self, path: str, data: Any, **kwargs: Any) -> aiohttp.ClientResponse:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        response = await self.session.post(self.url(path), data=data, headers=headers, **kwargs)
        await response.read()
        return response

    async def pages(self, path: str, params: dict[str, str]) -> list[list[dict[str, Any]]]:
        """Every page of a listing, following next_cursor."""
        pages: list[list[dict[str, Any]]] = []
        query = dict(params)
        while True:
            body = await self.json(path, query)
            pages.append(body["data"])
            cursor = body["meta"]["next_cursor"]
            if cursor is None:
                return pages
            query["page[cursor]"] = cursor


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(invoices=SMALL, seed=7) as sb:
        yield sb


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def api(sandbox: Sandbox, session: aiohttp.ClientSession) -> Api:
    return Api(sandbox, session, sandbox.token)
