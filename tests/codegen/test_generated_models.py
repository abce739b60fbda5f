"""The generated models: every type decodes, every example in the description decodes, and
decoding stays forward compatible."""

from __future__ import annotations

import inspect
import json
from typing import Any

import msgspec
import pytest
from openapi_spec_validator import validate

from codegen.spec import SPEC_PATH, load_spec
from kanbert_async._generated import models
from kanbert_async._generated.models import OutgoingInvoiceData, OutgoingInvoiceStatus

MODEL_TYPES = [
    obj
    for _, obj in inspect.getmembers(models, inspect.isclass)
    if obj.__module__ == models.__name__ and issubclass(obj, msgspec.Struct | models.KanbertEnum)
]
SPEC = load_spec()


def test_the_description_is_valid_openapi_3_1() -> None:
    validate(json.loads(SPEC_PATH.read_text()))


def test_every_component_schema_has_a_generated_type() -> None:
    generated = {t.__name__ for t in MODEL_TYPES}
    missing = set(SPEC["components"]["schemas"]) - generated
    assert not missing


@pytest.mark.parametrize("model", MODEL_TYPES, ids=lambda t: t.__name__)
def test_a_decoder_builds_for_every_generated_type(model: type[Any]) -> None:
    msgspec.json.Decoder(model)


def _schema_examples() -> list[tuple[str, Any]]:
    examples = []
    for name, schema in SPEC["components"]["schemas"].items():
        for example in schema.get("examples", []):
            examples.append((name, example))
    for item in SPEC["paths"].values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    ref = media.get("schema", {}).get("$ref", "")
                    if "example" in media and ref.startswith("#/components/schemas/"):
                        examples.append((ref.rsplit("/", 1)[1], media["example"]))
    return examples


EXAMPLES = _schema_examples()


def test_the_description_carries_examples() -> None:
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize(
    ("schema", "example"), EXAMPLES, ids=[f"{s}-{i}" for i, (s, _) in enumerate(EXAMPLES)]
)
def test_every_example_in_the_description_decodes(schema: str, example: Any) -> None:
    model = getattr(models, schema)
    decoded = msgspec.json.decode(json.dumps(example).encode(), type=model)
    assert isinstance(decoded, model)


def _invoice_example() -> dict[str, Any]:
    return dict(SPEC["components"]["schemas"]["OutgoingInvoiceData"]["examples"][0])


def test_a_field_kanbert_adds_later_is_ignored() -> None:
    payload = {**_invoice_example(), "brand_new_field": {"nested": [1, 2]}}
    invoice = msgspec.json.decode(json.dumps(payload).encode(), type=OutgoingInvoiceData)
    assert invoice.id == payload["id"]


def test_an_enum_value_kanbert_adds_later_decodes_and_keeps_its_value() -> None:
    payload = {**_invoice_example(), "status": "archived_forever"}
    invoice = msgspec.json.decode(json.dumps(payload).encode(), type=OutgoingInvoiceData)
    assert invoice.status.value == "archived_forever"
    assert invoice.status.name == "UNKNOWN"
    assert invoice.status not in list(OutgoingInvoiceStatus)


def test_relations_not_included_decode_as_unset_distinct_from_empty() -> None:
    payload = _invoice_example()
    for relation in ("line_items", "discounts", "external_costs"):
        payload.pop(relation, None)
    absent = msgspec.json.decode(json.dumps(payload).encode(), type=OutgoingInvoiceData)
    assert absent.line_items is msgspec.UNSET
    empty = msgspec.json.decode(json.dumps({**payload, "line_items": []}).encode(), type=OutgoingInvoiceData)
    assert empty.line_items == []


def test_a_relation_that_is_not_includable_stays_required() -> None:
    payload = _invoice_example()
    del payload["client"]
    with pytest.raises(msgspec.ValidationError, match="client"):
        msgspec.json.decode(json.dumps(payload).encode(), type=OutgoingInvoiceData)


def test_dates_and_datetimes_are_real_types() -> None:
    invoice = msgspec.json.decode(json.dumps(_invoice_example()).encode(), type=OutgoingInvoiceData)
    assert invoice.date_of_invoice.year == 2019
    assert invoice.date_of_invoice.tzinfo is not None


def test_models_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        models.SpaceData("id", "name")  # type: ignore[misc]
    assert models.SpaceData(id="s1", name="Agency").name == "Agency"
