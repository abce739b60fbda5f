"""Base classes shared by every generated model.

Speed and forward compatibility are decided here, once, instead of in each generated class:
unknown fields are ignored (msgspec's default), unknown enum values decode to a pseudo-member
instead of failing, and Structs skip the cycle GC because decoded JSON trees cannot form cycles.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

__all__ = ["KanbertEnum", "Model"]


class Model(msgspec.Struct, kw_only=True, gc=False):
    """Base of every Kanbert model: keyword-only construction, no GC tracking, unknown keys ignored."""


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
