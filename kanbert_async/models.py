"""Kanbert's data models (msgspec Structs generated from the OpenAPI description)."""

from ._generated.models import *  # noqa: F403
