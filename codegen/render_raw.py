"""Render each resource's ``with_raw_response`` view: the same methods, returning ``RawResponse``.

Each method is one line (``get = raw(OutgoingInvoices.get)``): its signature is the resource
method's, carried through a ``ParamSpec`` (:mod:`kanbert_async._core.adapt`), so nothing is
written twice and mypy sees the real parameters.
"""

from __future__ import annotations

from codegen.operations import Op

__all__ = ["adapter_name", "raw_class", "raw_property"]


def adapter_name(op: Op, prefix: str = "raw") -> str:
    """The factory that adapts ``op``'s method: ``raw``/``raw_pager``/``raw_download`` (or another prefix)."""
    if op.paginated:
        return f"{prefix}_pager"
    if op.binary:
        return f"{prefix}_download"
    return prefix


def raw_property(class_name: str) -> str:
    """The ``with_raw_response`` attribute of the resource class (inside its body)."""
    return (
        "\n    @cached_property\n"
        f"    def with_raw_response(self) -> {class_name}WithRawResponse:\n"
        '        """The same methods, each returning a ``RawResponse``: status, headers, request id,\n'
        '        time and retries alongside the parsed result (a list method: its first page)."""\n'
        f"        return {class_name}WithRawResponse(self)\n"
    )


def raw_class(class_name: str, tag: str, ops: list[Op]) -> str:
    """The view class, after the resource class."""
    lines = [
        f"\n\nclass {class_name}WithRawResponse(RawView[{class_name}]):\n",
        f'    """{tag}, each method returning a ``RawResponse`` (``.with_raw_response``)."""\n\n',
    ]
    lines += [f"    {op.name} = {adapter_name(op)}({class_name}.{op.name})\n" for op in ops]
    return "".join(lines)
