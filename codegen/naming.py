"""How OpenAPI names become Python names. One place, so stubs, models and tests agree."""

from __future__ import annotations

import keyword
import re

#: Laravel's resource actions, and what a Python caller expects to read instead.
ACTION_NAMES = {"index": "list", "show": "get", "store": "create", "destroy": "delete"}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")


def snake(name: str) -> str:
    """``outgoingInvoices``, ``Outgoing Invoices`` → ``outgoing_invoices``; ``page[size]`` → ``page_size``."""
    spaced = _CAMEL_BOUNDARY.sub("_", name)
    return _NON_WORD.sub("_", spaced).strip("_").lower()


def pascal(name: str) -> str:
    """``outgoing_invoices`` / ``outgoingInvoices`` → ``OutgoingInvoices``."""
    return "".join(part[:1].upper() + part[1:] for part in snake(name).split("_"))


def safe_identifier(name: str) -> str:
    """A Python identifier for ``name``: keywords get a trailing underscore, leading digits a prefix."""
    ident = snake(name) or "value"
    if ident[0].isdigit():
        ident = f"n_{ident}"
    if keyword.iskeyword(ident) or ident in {"self", "options"}:
        ident += "_"
    return ident


def split_operation_id(operation_id: str) -> tuple[str, str]:
    """``outgoingInvoices.createExternal`` → (``outgoing_invoices``, ``create_external``)."""
    resource, sep, action = operation_id.rpartition(".")
    if not sep:
        raise ValueError(f"operationId {operation_id!r} is not of the form '<resource>.<action>'")
    return snake(resource), snake(action)


def method_name(action: str, *, paginated: bool, binary: bool) -> str:
    """The Python method for an action: Laravel verbs read as Python verbs, lists and downloads say so."""
    name = ACTION_NAMES.get(action, action)
    if paginated and name != "list" and not name.startswith("list_"):
        name = f"list_{name}"
    if binary and not name.startswith("download"):
        name = f"download_{name}"
    return safe_identifier(name)
