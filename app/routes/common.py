"""What every route does: read the body as text, read whole-number args, reach the pool."""

from __future__ import annotations

from flask import current_app, request
from psycopg_pool import ConnectionPool

from app.errors import ApiError, invalid_field


def json_body_text() -> str:
    """The request body as text, unparsed: PostgreSQL parses and validates it.

    Raises ApiError 415 for another content type and 400 for bytes that are
    not UTF-8 or hold NUL bytes (which PostgreSQL text cannot carry).
    """
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = request.get_data(cache=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not UTF-8: {exc.reason}") from exc
    if "\x00" in text:
        raise ApiError(400, "invalid_json", "the body holds a NUL byte")
    return text


def whole_number_arg(name: str, default: int) -> int:
    """A query parameter that must be a whole number. Raises ApiError 400."""
    value = request.args.get(name, str(default))
    if not value.isdigit():
        raise invalid_field(name, "invalid_type", f"{name} must be a whole number")
    return int(value)


def pool() -> ConnectionPool:
    """The app's connection pool."""
    return current_app.extensions["studio_pool"]
