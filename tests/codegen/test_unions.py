"""Unions msgspec can decode: tagged where the members carry a tag, ``Any`` where nothing tells
the members apart, and left alone where their kinds differ."""

from __future__ import annotations

from typing import Any

from codegen.normalize import settle_unions


def _settled(union: dict[str, Any], **schemas: Any) -> Any:
    spec = {"components": {"schemas": {"U": union, **schemas}}}
    return settle_unions(spec)["components"]["schemas"]["U"]


CIRCLE = {"type": "object", "properties": {"kind": {"const": "circle"}}, "required": ["kind"]}
SQUARE = {"type": "object", "properties": {"kind": {"enum": ["square"]}}, "required": ["kind"]}
LABEL = {"type": "object", "properties": {"text": {"type": "string"}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def test_objects_that_all_require_a_constant_property_are_tagged_by_it() -> None:
    settled = _settled({"anyOf": [_ref("Circle"), _ref("Square")]}, Circle=CIRCLE, Square=SQUARE)
    assert settled["discriminator"] == {
        "propertyName": "kind",
        "mapping": {"circle": "#/components/schemas/Circle", "square": "#/components/schemas/Square"},
    }


def test_objects_without_a_tag_decode_as_plain_json() -> None:
    settled = _settled({"oneOf": [_ref("Circle"), _ref("Label")]}, Circle=CIRCLE, Label=LABEL)
    assert "oneOf" not in settled and "plain JSON" in settled["description"]


def test_two_string_like_members_cannot_be_told_apart() -> None:
    settled = _settled({"anyOf": [{"type": "string"}, {"type": "string", "format": "date-time"}]})
    assert "anyOf" not in settled


def test_a_nullable_reference_and_members_of_different_kinds_stay_as_they_are() -> None:
    tagged = {"oneOf": [_ref("Circle"), _ref("Square")], "discriminator": {"propertyName": "kind"}}
    nullable = {"anyOf": [_ref("Tagged"), {"type": "null"}]}
    assert _settled(nullable, Tagged=tagged, Circle=CIRCLE, Square=SQUARE) == nullable
    mixed = {"anyOf": [{"type": "string"}, {"type": "integer"}, _ref("Label"), {"type": "array"}]}
    assert _settled(mixed, Label=LABEL) == mixed
