"""Laravel-shaped answers: JSON bodies encoded by msgspec, error bodies from the generated models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web

from kanbert_async._generated.models import (
    AuthenticationException,
    AuthorizationException,
    BadRequest,
    ModelNotFoundException,
    TooManyRequests,
    ValidationException,
)

__all__ = ["ApiError", "error_body", "error_response", "json_response"]

_encoder = msgspec.json.Encoder()


class ApiError(Exception):
    """An error answer: status, Laravel's ``message``, optional ``errors`` and headers."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: dict[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})


def error_body(status: int, message: str, errors: dict[str, list[str]] | None) -> Any:
    """A Laravel-style error body for ``status``, built from the generated error models (so error
    bodies conform to the description too)."""
    if status == 422:
        return ValidationException(message=message, errors=errors or {})
    model = {
        400: BadRequest,
        401: AuthenticationException,
        403: AuthorizationException,
        404: ModelNotFoundException,
        429: TooManyRequests,
    }.get(status)
    return model(message=message) if model is not None else {"message": message}


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response encoded by msgspec (``Content-Type: application/json``)."""
    return web.Response(
        body=_encoder.encode(body), status=status, content_type="application/json", headers=headers
    )


def error_response(error: ApiError) -> web.Response:
    """The Laravel-shaped JSON answer for ``error``."""
    return json_response(error.status, error_body(error.status, error.message, error.errors), error.headers)
