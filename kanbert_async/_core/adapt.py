"""Methods of one class offered by another, exactly typed: the machinery behind
``with_raw_response`` and the blocking client.

A *view* wraps an object (``view.target``); an :class:`Adapted` descriptor on the view's class
takes a method of the target's class and an *adapter* that turns what the method returns into
what the view's method returns. Codegen writes one line per method (``get =
raw(OutgoingInvoices.get)``) and the typed factories (:func:`kanbert_async._core.raw.raw`,
``kanbert_async._sync.adapters.blocking``) carry the method's parameters through a
``ParamSpec``, so mypy and IDEs see the real signature and the adapted return type.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

__all__ = ["Adapted", "Adapter", "View"]

P = ParamSpec("P")
R = TypeVar("R")
TargetT = TypeVar("TargetT")

#: ``adapter(view, call)``: ``call()`` runs the target's method; the adapter returns the view's result.
Adapter = Callable[[Any, Callable[[], Any]], Any]


class View(Generic[TargetT]):
    """An object presenting another one's methods in another form (raw, blocking)."""

    __slots__ = ("__dict__", "target")

    def __init__(self, target: TargetT) -> None:
        self.target = target

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.target!r}>"


class Adapted(Generic[P, R]):
    """A view's method made from its target's method ``fn`` and an adapter of its result."""

    def __init__(self, fn: Callable[..., Any], adapter: Adapter) -> None:
        self._fn = fn
        self._adapter = adapter
        self.__doc__ = fn.__doc__
        self._signature: inspect.Signature | None = None

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, view: None, owner: type[Any]) -> Adapted[P, R]: ...

    @overload
    def __get__(self, view: View[Any], owner: type[Any]) -> Callable[P, R]: ...

    def __get__(self, view: View[Any] | None, owner: type[Any]) -> Adapted[P, R] | Callable[P, R]:
        if view is None:
            return self
        fn, adapter, target = self._fn, self._adapter, view.target

        def method(*args: P.args, **kwargs: P.kwargs) -> R:
            result: R = adapter(view, lambda: fn(target, *args, **kwargs))
            return result

        method.__name__ = method.__qualname__ = getattr(self, "_name", fn.__name__)
        method.__doc__ = fn.__doc__
        method.__signature__ = self._bound_signature()  # type: ignore[attr-defined]
        return method

    def _bound_signature(self) -> inspect.Signature:
        """The target method's parameters without ``self`` (what ``help()`` and ``inspect`` show)."""
        if self._signature is None:
            signature = inspect.signature(self._fn)
            params = list(signature.parameters.values())[1:]
            self._signature = signature.replace(parameters=params, return_annotation=inspect.Signature.empty)
        return self._signature
