"""The duplicate check of a create: after an ambiguous failure, look the record up by its key.

A create whose body carries a caller-chosen unique key (Kanbert's ``external_id``) and whose
operation names a :class:`~.operation.DuplicateCheck` can be checked: if the lookup finds the
record, the create had happened and the record is the call's result; if it answers 404, the
create provably did not happen and may be sent again. The transport's duplicate-check layer asks
after each ambiguous attempt (see :meth:`.transport.Transport._send_checking_existing`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from .encoding import flatten_query, is_unset
from .errors import APIConnectionError, APIStatusError, KanbertError, NotFoundError

if TYPE_CHECKING:
    from .exchange import Response
    from .operation import Operation
    from .transport import Transport

__all__ = ["duplicate_check_for", "find_existing"]


def duplicate_check_for(
    transport: Transport, operation: Operation[Any], body: Mapping[str, Any] | None
) -> Callable[[], Awaitable[Response | None]] | None:
    """The lookup that tells whether this create already happened, or None when it cannot be told
    (the operation has no duplicate check, or the caller gave no key)."""
    check = operation.duplicate_check
    if check is None or body is None or is_unset(body.get(check.key_field)):
        return None
    path = {check.path_param: body[check.key_field]}
    query = dict(check.query)
    for body_field, param in check.scope_fields.items():
        if not is_unset(body.get(body_field)):
            query[param] = body[body_field]
    url = transport.url_for(check.lookup, path, flatten_query(query))
    return functools.partial(find_existing, transport, check.lookup, url)


async def find_existing(transport: Transport, lookup: Operation[Any], url: str) -> Response | None:
    """Look a record up after an ambiguous create: its response if it exists, None on 404."""
    try:
        return await transport.send(lookup, url)
    except NotFoundError:
        return None
    except APIStatusError as exc:
        raise KanbertError(
            f"{lookup.id}: could not check whether an interrupted create took effect ({exc}). "
            "Look the record up by its external_id before creating it again."
        ) from exc
    except APIConnectionError as exc:
        # Still a connection error (callers catch it as one), but about the create, not the lookup.
        raise APIConnectionError(
            f"{lookup.id}: could not check whether an interrupted create took effect ({exc}) "
            "Look the record up by its external_id before creating it again.",
            method=exc.method,
            url=exc.url,
        ) from exc
