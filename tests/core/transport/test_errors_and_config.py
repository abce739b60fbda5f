"""Transport behaviour against mocked responses (aioresponses): errors, decoding, configuration, lifecycle."""

from __future__ import annotations

import gc
import re
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest
from aioresponses import aioresponses

from kanbert_async import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidRequestError,
    KanbertClient,
    KanbertError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestOptions,
    ResponseDecodeError,
    RetryPolicy,
    UnprocessableEntityError,
)
from tests.core.transport.loopback import invoice_json, page_json

BASE = "https://api.kanbert.com/api/v1"
SHOW = re.compile(r"^https://api\.kanbert\.com/api/v1/outgoing-invoices/[^/?]+(\?.*)?$")
INDEX = re.compile(r"^https://api\.kanbert\.com/api/v1/outgoing-invoices(\?.*)?$")
NO_RETRY = RetryPolicy(max_retries=0)


@pytest.fixture
def mocked() -> Any:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def kb() -> AsyncIterator[KanbertClient]:
    async with KanbertClient("tok_mock", retry=NO_RETRY) as client:
        yield client


def _sent_headers(mocked: Any) -> dict[str, str]:
    [calls] = mocked.requests.values()
    return dict(calls[-1].kwargs["headers"])


# -- status → exception ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
    ],
)
async def test_each_failed_status_raises_its_own_error_class_carrying_status_and_request_id(
    status: int, cls: type[APIStatusError], mocked: Any, kb: KanbertClient
) -> None:
    mocked.get(SHOW, status=status, payload={"message": "Nope."}, headers={"X-Request-Id": "req-42"})

    with pytest.raises(cls) as caught:
        await kb.outgoing_invoices.get("inv_1")

    error = caught.value
    assert type(error) is cls
    assert error.status == status
    assert error.request_id == "req-42"
    assert error.message == "Nope."
    assert error.body == {"message": "Nope."}
    assert error.operation == "outgoingInvoices.show"
    assert error.method == "GET"
    assert error.url == f"{BASE}/outgoing-invoices/inv_1"
    text = str(error)
    assert text.startswith(f"outgoingInvoices.show: HTTP {status} — Nope.")
    assert error.hint in text
    assert "req-42" in text


async def test_a_422_carries_laravels_field_errors_and_names_them_in_the_message(
    mocked: Any, kb: KanbertClient
) -> None:
    body = {
        "message": "The title field is required. (and 1 more error)",
        "errors": {"title": ["The title field is required."], "vats.0.vat": ["The vat must be a number."]},
    }
    mocked.get(SHOW, status=422, payload=body)

    with pytest.raises(UnprocessableEntityError) as caught:
        await kb.outgoing_invoices.get("inv_1")

    assert caught.value.errors == body["errors"]
    text = str(caught.value)
    assert "title: The title field is required." in text
    assert "vats.0.vat: The vat must be a number." in text
    assert "Fix the fields listed in .errors" in text


async def test_a_429_that_is_not_retried_carries_the_servers_retry_after(
    mocked: Any, kb: KanbertClient
) -> None:
    mocked.get(SHOW, status=429, payload={"message": "Too Many Attempts."}, headers={"Retry-After": "7"})

    with pytest.raises(RateLimitError) as caught:
        await kb.outgoing_invoices.get("inv_1")

    assert caught.value.retry_after == 7.0
    assert "asked to wait 7.0s" in str(caught.value)


async def test_an_html_error_page_is_kept_as_text_and_still_gives_a_readable_error(
    mocked: Any, kb: KanbertClient
) -> None:
    mocked.get(SHOW, status=502, body="<html><body>Bad Gateway</body></html>", content_type="text/html")

    with pytest.raises(InternalServerError) as caught:
        await kb.outgoing_invoices.get("inv_1")

    assert caught.value.body == "<html><body>Bad Gateway</body></html>"
    assert str(caught.value).startswith("outgoingInvoices.show: HTTP 502.")


async def test_a_json_error_body_of_another_shape_is_kept_as_json_not_as_text(
    mocked: Any, kb: KanbertClient
) -> None:
    # Gateways and older endpoints answer {"error": ...}; Laravel may send "errors": [] when empty.
    mocked.get(SHOW, status=403, payload={"error": "forbidden", "message": None, "errors": []})

    with pytest.raises(PermissionDeniedError) as caught:
        await kb.outgoing_invoices.get("inv_1")

    assert caught.value.body == {"error": "forbidden", "message": None, "errors": []}
    assert "requires the scope(s) outgoing-invoice:read" in str(caught.value)


async def test_error_headers_never_keep_credentials(mocked: Any, kb: KanbertClient) -> None:
    mocked.get(
        SHOW, status=401, payload={"message": "Unauthenticated."}, headers={"Set-Cookie": "session=abc"}
    )

    with pytest.raises(AuthenticationError) as caught:
        await kb.outgoing_invoices.get("inv_1")

    assert caught.value.headers["Set-Cookie"] == "<redacted>"


# -- decoding -------------------------------------------------------------------------------------


async def test_a_response_that_does_not_match_its_schema_raises_response_decode_error_naming_path_and_op(
    mocked: Any, kb: KanbertClient
) -> None:
    mocked.get(SHOW, payload=invoice_json(sum_net="a lot"))

    with pytest.raises(ResponseDecodeError) as caught:
        await kb.outgoing_invoices.get("inv_1")

    error = caught.value
    assert not isinstance(error, msgspec.DecodeError)
    assert error.__cause__ is None and error.__suppress_context__
    assert error.operation == "outgoingInvoices.show"
    assert error.path == "$.sum_net"
    assert "outgoingInvoices.show" in str(error)
    assert "$.sum_net" in str(error)
    assert "OutgoingInvoiceData" in str(error)


async def test_a_list_page_that_does_not_match_names_the_item_path(mocked: Any, kb: KanbertClient) -> None:
    mocked.get(INDEX, payload=page_json([invoice_json("inv_1"), invoice_json("inv_2", title=None)]))

    with pytest.raises(ResponseDecodeError) as caught:
        await kb.outgoing_invoices.list().to_list()

    assert caught.value.path == "$.data[1].title"
    assert caught.value.operation == "outgoingInvoices.index"


async def test_a_body_that_is_not_json_raises_response_decode_error_that_suggests_checking_the_base_url(
    mocked: Any, kb: KanbertClient
) -> None:
    mocked.get(SHOW, body="<html>login</html>", content_type="text/html")

    with pytest.raises(ResponseDecodeError, match=r"outgoingInvoices.show: .*not valid JSON.*base URL"):
        await kb.outgoing_invoices.get("inv_1")


# -- configuration --------------------------------------------------------------------------------


async def test_the_token_and_base_url_come_from_the_environment_when_not_given(
    monkeypatch: pytest.MonkeyPatch, mocked: Any
) -> None:
    monkeypatch.setenv("KANBERT_API_TOKEN", "tok_from_env")
    monkeypatch.setenv("KANBERT_BASE_URL", "https://eu.kanbert.example/api/v1/")
    mocked.get("https://eu.kanbert.example/api/v1/outgoing-invoices/inv_1", payload=invoice_json())

    async with KanbertClient() as kb:
        assert kb.base_url == "https://eu.kanbert.example/api/v1"
        await kb.outgoing_invoices.get("inv_1")

    assert _sent_headers(mocked)["Authorization"] == "Bearer tok_from_env"


async def test_explicit_arguments_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, mocked: Any
) -> None:
    monkeypatch.setenv("KANBERT_API_TOKEN", "tok_from_env")
    monkeypatch.setenv("KANBERT_BASE_URL", "https://eu.kanbert.example/api/v1")
    mocked.get(f"{BASE}/outgoing-invoices/inv_1", payload=invoice_json())

    async with KanbertClient("tok_explicit", base_url=BASE) as kb:
        await kb.outgoing_invoices.get("inv_1")

    assert _sent_headers(mocked)["Authorization"] == "Bearer tok_explicit"


def test_the_default_base_url_is_kanberts_production_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KANBERT_BASE_URL", raising=False)
    assert KanbertClient("tok").base_url == "https://api.kanbert.com/api/v1"


@pytest.mark.parametrize("token", [None, ""])
def test_a_missing_token_is_refused_with_a_message_that_says_where_to_get_one(
    token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KANBERT_API_TOKEN", raising=False)
    with pytest.raises(InvalidRequestError, match=r"KANBERT_API_TOKEN.*Settings → Apps & API"):
        KanbertClient(token)


@pytest.mark.parametrize(
    "url", ["http://api.kanbert.com/api/v1", "http://10.0.0.5:8080", "http://localhost.evil.example/api"]
)
def test_plain_http_to_a_non_loopback_host_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidRequestError, match="allow_insecure_http=True"):
        KanbertClient("tok", base_url=url)
    assert KanbertClient("tok", base_url=url, allow_insecure_http=True).base_url == url


@pytest.mark.parametrize(
    "url", ["http://localhost:8000/api/v1", "http://127.0.0.1:8000", "http://[::1]:8000"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert KanbertClient("tok", base_url=url).base_url == url


@pytest.mark.parametrize("url", ["ftp://api.kanbert.com", "api.kanbert.com/api/v1", "https://"])
def test_a_base_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(InvalidRequestError, match="not an http"):
        KanbertClient("tok", base_url=url)


async def test_every_request_says_who_is_calling_and_that_it_wants_json(
    mocked: Any, kb: KanbertClient
) -> None:
    mocked.get(SHOW, payload=invoice_json())

    await kb.outgoing_invoices.get("inv_1")

    headers = _sent_headers(mocked)
    assert headers["Accept"] == "application/json"
    assert headers["Authorization"] == "Bearer tok_mock"


# -- lifecycle ------------------------------------------------------------------------------------


async def test_an_injected_session_is_used_and_left_open(mocked: Any) -> None:
    mocked.get(SHOW, payload=invoice_json())
    async with aiohttp.ClientSession() as session:
        async with KanbertClient("tok", session=session) as kb:
            await kb.outgoing_invoices.get("inv_1")
        assert not session.closed
    assert _sent_headers(mocked)["User-Agent"].startswith("kanbert-async/")


async def test_an_owned_session_is_closed_with_the_client_and_later_calls_say_so(mocked: Any) -> None:
    mocked.get(SHOW, payload=invoice_json())
    async with KanbertClient("tok") as kb:
        await kb.outgoing_invoices.get("inv_1")
        session = kb._transport.pool._session
        assert session is not None
    assert session.closed
    with pytest.raises(KanbertError, match="client is closed"):
        await kb.outgoing_invoices.get("inv_1")


async def test_an_unclosed_client_warns_with_a_resource_warning_that_says_how_to_close_it(
    mocked: Any,
) -> None:
    mocked.get(SHOW, payload=invoice_json())
    kb = KanbertClient("tok")
    await kb.outgoing_invoices.get("inv_1")
    session = kb._transport.pool._session
    assert session is not None

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del kb
        gc.collect()

    messages = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert any("was not closed" in m and "async with KanbertClient()" in m for m in messages)
    await session.close()


async def test_a_closed_client_gives_no_resource_warning(mocked: Any) -> None:
    mocked.get(SHOW, payload=invoice_json())
    kb = KanbertClient("tok")
    await kb.outgoing_invoices.get("inv_1")
    await kb.aclose()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del kb
        gc.collect()

    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


# -- connection failures --------------------------------------------------------------------------


async def test_a_connection_failure_raises_api_connection_error_naming_the_call_and_what_to_check(
    mocked: Any,
) -> None:
    mocked.get(SHOW, exception=aiohttp.ClientConnectorError(_conn_key(), OSError(111, "Connection refused")))

    async with KanbertClient("tok", retry=NO_RETRY) as kb:
        with pytest.raises(APIConnectionError) as caught:
            await kb.outgoing_invoices.get("inv_1")

    text = str(caught.value)
    assert text.startswith(
        f"outgoingInvoices.show: GET {BASE}/outgoing-invoices/inv_1 could not reach the server"
    )
    assert "KANBERT_BASE_URL" in text
    assert caught.value.method == "GET"
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)


async def test_per_call_max_retries_overrides_the_client_policy(mocked: Any) -> None:
    mocked.get(SHOW, status=503, repeat=True)
    async with KanbertClient("tok", retry=RetryPolicy(max_retries=4, backoff_base=0.0)) as kb:
        with pytest.raises(InternalServerError):
            await kb.outgoing_invoices.get("inv_1", options=RequestOptions(max_retries=0))
        assert kb.stats.requests == 1
        with pytest.raises(InternalServerError):
            await kb.outgoing_invoices.get("inv_1")
        assert kb.stats.requests == 1 + 5


def _conn_key() -> Any:
    from aiohttp.client_reqrep import ConnectionKey

    return ConnectionKey("api.kanbert.com", 443, True, True, None, None, None)
