"""Base classes shared by every generated model.

Speed and forward compatibility are decided here, once, instead of in each generated class:
unknown fields are ignored (msgspec's default), unknown enum values decode to a pseudo-member
instead of failing, and Structs skip the cycle GC because decoded JSON trees cannot form cycles.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Any, Literal

import msgspec

__all__ = ["KanbertEnum", "Model"]


class Model(msgspec.Struct, kw_only=True, gc=False):
    """Base of every Kanbert model: keyword-only construction, no GC tracking, unknown keys ignored.

    ``to_dict()`` and ``to_json()`` turn one back into the API's shape (its field names; fields the
    response left out stay out). Fields this SDK does not know are not kept on the model: ask for
    the JSON as sent with ``pager.keep_raw()`` (``page.raw``) or ``with_raw_response`` (``.content``).
    """

    def to_dict(self, *, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """The model as a dict keyed by the API's field names, nested models as dicts.

        ``mode="python"`` keeps datetimes, dates and decimals as Python objects; ``mode="json"``
        gives only JSON types (ISO 8601 strings), as ``json.dumps`` needs.
        """
        builtin = _PYTHON_TYPES if mode == "python" else ()
        result: dict[str, Any] = msgspec.to_builtins(self, builtin_types=builtin)
        return result

    def to_json(self, *, indent: int | None = None) -> str:
        """The model as JSON text, as the API writes it (``indent`` pretty-prints)."""
        encoded = msgspec.json.encode(self)
        if indent is not None:
            encoded = msgspec.json.format(encoded, indent=indent)
        return encoded.decode()


_PYTHON_TYPES = (datetime.datetime, datetime.date, datetime.time, decimal.Decimal, uuid.UUID)


class KanbertEnum(enum.StrEnum):
    """Base of every Kanbert enum.

    A value Kanbert adds after this SDK was generated still decodes: it becomes a pseudo-member whose
    ``name`` is ``"UNKNOWN"`` and whose ``value`` is the string the API sent, so today's SDK never
    rejects tomorrow's response. Compare such values by ``.value``.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        # Cache the pseudo-member so identity comparisons stay stable across decodes.
        member = cls._value2member_map_.get(value)
        if member is None:
            member = str.__new__(cls, value)
            member._name_ = "UNKNOWN"
            member._value_ = value
            cls._value2member_map_[value] = member
        return member
