"""Render the blocking client's resources (``kanbert_async._generated.sync``) from the same operations.

Each method is one line (``get = blocking(OutgoingInvoices.get)``) over the async resource's
method: the same parameters, carried through a ``ParamSpec``, so the blocking signatures can never
drift from the async ones and mypy sees them exactly (:mod:`kanbert_async._sync.adapters`).
"""

from __future__ import annotations

from codegen.naming import pascal
from codegen.operations import Op
from codegen.render_raw import adapter_name

__all__ = ["render_sync_init", "render_sync_modules", "render_sync_resource"]


def render_sync_resource(header: str, resource: str, ops: list[Op]) -> str:
    """The blocking module for one resource: the resource class and its ``with_raw_response`` view."""
    name = pascal(resource)
    tag = ops[0].tag
    factories = sorted(
        {adapter_name(op, "blocking") for op in ops} | {adapter_name(op, "blocking_raw") for op in ops}
    )
    lines = [
        header,
        f'"""Blocking operations on {tag}: ``client.{resource}`` of the blocking client."""\n\n',
        "from __future__ import annotations\n\n",
        "from functools import cached_property\n\n",
        f"from kanbert_async._sync.adapters import SyncView, {', '.join(factories)}\n\n",
        f"from ..resources.{resource} import {name} as _Async{name}\n\n",
        f"__all__ = [{name!r}, {name + 'WithRawResponse'!r}]\n\n\n",
        f"class {name}(SyncView[_Async{name}]):\n",
        f'    """{tag} (blocking): ``{", ".join(op.name for op in ops)}``."""\n\n',
    ]
    lines += [f"    {op.name} = {adapter_name(op, 'blocking')}(_Async{name}.{op.name})\n" for op in ops]
    lines += [
        "\n    @cached_property\n",
        f"    def with_raw_response(self) -> {name}WithRawResponse:\n",
        '        """The same methods, each returning a ``RawResponse`` (a list method: its first page)."""\n',
        f"        return {name}WithRawResponse(self.target, self.portal)\n\n\n",
        f"class {name}WithRawResponse(SyncView[_Async{name}]):\n",
        f'    """{tag} (blocking), each method returning a ``RawResponse``."""\n\n',
    ]
    lines += [f"    {op.name} = {adapter_name(op, 'blocking_raw')}(_Async{name}.{op.name})\n" for op in ops]
    return "".join(lines)


def render_sync_init(header: str, grouped: dict[str, list[Op]]) -> str:
    """The blocking client's mixin: one attribute per resource, its module imported on first use."""
    classes = {pascal(resource): resource for resource in sorted(grouped)}
    lines = [
        header,
        '"""The API\'s resources on the blocking client: ``client.<resource>.<method>()``."""\n\n',
        "from __future__ import annotations\n\n",
        "from functools import cached_property\n",
        "from typing import TYPE_CHECKING, Any\n\n",
        "if TYPE_CHECKING:\n",
    ]
    lines += [f"    from .{resource} import {name}\n" for name, resource in classes.items()]
    lines += [
        "\n__all__ = ['SyncResourcesMixin']\n\n\n",
        "class SyncResourcesMixin:\n",
        '    """One attribute per API resource; the client supplies the async client and its loop."""\n\n',
        "    def _sync_parts(self) -> tuple[Any, Any]:\n",
        "        raise NotImplementedError\n",
    ]
    for name, resource in classes.items():
        lines.append(
            f"\n    @cached_property\n    def {resource}(self) -> {name}:\n"
            f'        """{grouped[resource][0].tag} operations (blocking)."""\n'
            f"        from .{resource} import {name}\n\n"
            f"        client, portal = self._sync_parts()\n"
            f"        return {name}(client.{resource}, portal)\n"
        )
    return "".join(lines)


def render_sync_modules(header: str, grouped: dict[str, list[Op]]) -> dict[str, str]:
    """Every file of ``_generated/sync/``, by path relative to ``_generated/``."""
    files = {"sync/__init__.py": render_sync_init(header, grouped)}
    for resource, ops in grouped.items():
        files[f"sync/{resource}.py"] = render_sync_resource(header, resource, ops)
    return files
