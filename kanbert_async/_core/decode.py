"""Decoding responses: straight from bytes into the operation's model by a cached msgspec decoder.

One decoder per response type, built on first use; a page decoded with raw spans of each item
(for :meth:`~.pager.AsyncPager.keep_raw`) through a twin of its wrapper whose ``data`` is
``list[msgspec.Raw]``; the next cursor read where the operation's ``Paging`` says. A body that
does not match names the operation and the JSON path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

import msgspec

from .errors import ResponseDecodeError
from .page import Page

if TYPE_CHECKING:
    from .operation import Operation

__all__ = ["decode_error", "decode_page", "decode_response", "decoder", "raw_page_type"]


_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decoder(model: type[Any]) -> msgspec.json.Decoder[Any]:
    """One decoder per response type, built on first use (building one costs far more than decoding)."""
    found = _decoders.get(model)
    if found is None:
        found = _decoders[model] = msgspec.json.Decoder(model)
    return found


_raw_pages: dict[type[Any], tuple[type[Any], type[Any]]] = {}


def raw_page_type(operation: Operation[Any]) -> tuple[type[Any], type[Any]]:
    """For a page wrapper ``{data: list[Item], ...}``: a twin whose ``data`` holds raw JSON spans
    (``msgspec.Raw``) and whose other fields are the wrapper's, and the item type to decode each
    span into."""
    wrapper = operation.response
    assert wrapper is not None
    cached = _raw_pages.get(wrapper)
    if cached is None:
        fields = msgspec.structs.fields(wrapper)
        data_type = next(f.type for f in fields if f.name == "data")
        if get_origin(data_type) is Annotated:  # Annotated[list[Item], Meta(...)]
            data_type = get_args(data_type)[0]
        (item_type,) = get_args(data_type)
        twin_fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for f in fields:
            kind = list[msgspec.Raw] if f.name == "data" else f.type
            has_default = f.default is not msgspec.NODEFAULT
            twin_fields.append((f.name, kind, f.default) if has_default else (f.name, kind))
        raw_page = msgspec.defstruct(
            f"Raw{wrapper.__name__}",
            twin_fields,
            kw_only=True,
            rename={f.name: f.encode_name for f in fields},
        )
        cached = _raw_pages[wrapper] = (raw_page, item_type)
    return cached


def decode_error(
    operation: Operation[Any], model: type[Any], exc: msgspec.ValidationError, prefix: str = ""
) -> ResponseDecodeError:
    """The error for a body that does not match ``model``, with the JSON path (under ``prefix``)."""
    text = str(exc)
    path = text.rsplit(" - at `", 1)[1].rstrip("`") if " - at `" in text else None
    if prefix:
        path = prefix + (path or "$")[1:]
        text = f"{text} (in {prefix})"
    return ResponseDecodeError(
        f"{operation.id}: the response does not match {model.__name__}: {text}. "
        "The API may have changed incompatibly; upgrade kanbert-async or report this with the body.",
        operation=operation.id,
        path=path,
    )


def decode_response(operation: Operation[Any], body: bytes, model: type[Any] | None = None) -> Any:
    """Decode a response body into the operation's model in one pass, naming the operation on failure."""
    model = model or operation.response
    assert model is not None
    try:
        return decoder(model).decode(body)
    except msgspec.ValidationError as exc:
        raise decode_error(operation, model, exc) from None
    except msgspec.DecodeError as exc:
        raise ResponseDecodeError(
            f"{operation.id}: the response is not valid JSON ({exc}). Is the base URL a Kanbert API?",
            operation=operation.id,
        ) from None


def decode_page(
    operation: Operation[Any], body: bytes, cursor: str | None, *, raw: bool = False
) -> Page[Any]:
    """One page of a list operation: its items, and the cursor of the next page where the
    operation's :class:`~.operation.Paging` says the response names it.

    With ``raw``, each item's JSON span is kept alongside it (``page.raw``); items are still
    decoded once each, and a failing item is named by its index.
    """
    paging = operation.paging
    if not raw:
        decoded = decode_response(operation, body)
        return Page(decoded.data, cursor, paging.next_cursor(decoded), paging.meta_of(decoded))
    raw_page, item_type = raw_page_type(operation)
    decoded = decode_response(operation, body, raw_page)
    item_decoder = decoder(item_type)
    items = []
    for index, span in enumerate(decoded.data):
        try:
            items.append(item_decoder.decode(span))
        except msgspec.ValidationError as exc:
            raise decode_error(operation, item_type, exc, prefix=f"$.data[{index}]") from None
    return Page(items, cursor, paging.next_cursor(decoded), paging.meta_of(decoded), raw=list(decoded.data))
