"""What every route does: read the body as text, read query args, reach the database."""

from __future__ import annotations

import re
import threading

from flask import current_app, request

from app.db import Database
from app.errors import ApiError, invalid_field
from app.openapi.parameters import QUERY_PARAMETERS

# A Flask rule's "<int:job_id>" is OpenAPI's "{job_id}".
_RULE_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


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


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Nine digits fit PostgreSQL's integer; every limit is far below that.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


def query_args() -> dict[str, str]:
    """The current route's query parameters, as its OpenAPI entry declares them.

    Raises ApiError 400 for a parameter the route does not take (a typo such
    as "limt" must not be silently ignored), one given twice, or a value with
    a C0 or C1 control character, as in text fields (a NUL cannot even reach
    PostgreSQL).
    """
    rule = _RULE_PARAMETER.sub(r"{\1}", request.url_rule.rule) if request.url_rule else ""
    declared = {p["name"] for p in QUERY_PARAMETERS.get(rule, [])}
    args: dict[str, str] = {}
    for name, values in request.args.lists():
        if name not in declared:
            expected = ", ".join(sorted(declared)) or "none"
            raise invalid_field(
                name, "unknown_field", f"unknown query parameter; expected one of: {expected}"
            )
        if len(values) > 1:
            raise invalid_field(name, "invalid_value", f"give {name} once")
        if _CONTROL_CHARACTER.search(values[0]):
            raise invalid_field(
                name, "invalid_characters", f"{name} must not contain control characters"
            )
        args[name] = values[0]
    return args


def whole_number_arg(args: dict[str, str], name: str, default: int) -> int:
    """A query parameter that must be a whole number (ASCII digits: "²" and "٣"
    are not). Raises ApiError 400."""
    value = args.get(name, str(default))
    if not _WHOLE_NUMBER.fullmatch(value):
        code = "out_of_range" if value.isascii() and value.isdigit() else "invalid_type"
        raise invalid_field(name, code, f"{name} must be a whole number in range")
    return int(value)


def database() -> Database:
    """The app's database (a pool)."""
    return current_app.extensions["studio_db"]


_making_read_database = threading.Lock()


def read_database() -> Database:
    """Where recognition reads: the read replica at STUDIO_DATABASE_READ_URL (a
    pool of its own, made at first use), else the app's database."""
    settings = current_app.extensions["studio_settings"]
    if not settings.database_read_url:
        return database()
    with _making_read_database:
        if "studio_read_db" not in current_app.extensions:
            current_app.extensions["studio_read_db"] = Database(
                settings.database_read_url,
                pool_size=settings.pool_size,
                application_name="studio-recognize",
                statement_timeout=settings.statement_timeout,
            )
        return current_app.extensions["studio_read_db"]
