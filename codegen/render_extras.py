"""The ``extra_query``, ``extra_headers`` and ``extra_body`` arguments every generated method takes.

They reach what the description does not (yet) say — a new query parameter, a beta header, a body
field — through the method's own request: the stub folds them into its ``RequestOptions``
(:func:`kanbert_async._core.operation.with_extras`).
"""

from __future__ import annotations

__all__ = ["EXTRA_ARGS_DOC", "EXTRA_OPTIONS", "EXTRA_PARAMS"]

#: Signature entries, before ``options``.
EXTRA_PARAMS = (
    "extra_query: Mapping[str, Any] | None = None",
    "extra_headers: Mapping[str, str] | None = None",
    "extra_body: Mapping[str, Any] | None = None",
)

#: Docstring entries (Args section).
EXTRA_ARGS_DOC = (
    "extra_query: Query parameters to send as well (every page of a listing gets them).",
    "extra_headers: Headers to send as well.",
    "extra_body: Body fields to send as well, over the method's own (refused without a body).",
)

#: The runner argument that carries them.
EXTRA_OPTIONS = "options=with_extras(options, extra_query, extra_headers, extra_body)"
