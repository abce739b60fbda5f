"""The base of every generated resource class."""

from __future__ import annotations

from .operation import OperationRunner

__all__ = ["Resource"]


class Resource:
    """A group of operations (``client.outgoing_invoices``); runs them through the client."""

    __slots__ = ("_api",)

    def __init__(self, api: OperationRunner) -> None:
        self._api = api

    def __repr__(self) -> str:
        return f"<{type(self).__name__} resource>"
