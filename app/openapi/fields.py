"""The building blocks of the document's schemas: text, keys, numbers, vectors."""

from __future__ import annotations

from typing import Any

from app.limits import (
    DIMENSIONS,
    FLOAT4_ROUNDS_FINITE,
    FLOAT4_ROUNDS_TO_ZERO,
    FLOAT32_MAX,
    JOB_FIELD_BYTES,
    KEY_MAX,
    LEASE_SECONDS,
    MAX_K,
    MAX_PROBES,
    SEARCH_PATHS,
)

_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
_COUNT = {"type": "integer", "minimum": 0}
# C0 and C1 control characters, refused in every text field (NUL:
# PostgreSQL text cannot hold it at all).
_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"
# What studio_normalized_text trims besides the spaces NFKC makes.
_TRIMMED = " \\u0085\\u1680\\u2028\\u2029"


def _text(
    max_length: int | None = None,
    *,
    required: bool = True,
    only: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """A text field as studio_text_error judges it: not blank (when required),
    no control characters (or only the characters `only`, a regex class),
    at most `max_length` characters. Unanchored patterns, so that no regex
    dialect's "$ before a final newline" lets one slip through."""
    schema: dict[str, Any] = {"type": "string"}
    if required:
        schema["pattern"] = f"[^{_CONTROL}{_TRIMMED}]"
    schema["not"] = {"pattern": f"[^{only}]" if only else f"[{_CONTROL}]"}
    if max_length is not None:
        schema["maxLength"] = max_length
    if description:
        schema["description"] = description
    return schema


def _whole_number(most_digits: int) -> dict[str, Any]:
    """An integer whose decimal text has at most `most_digits` characters."""
    return {
        "type": "integer",
        "minimum": -(10 ** (most_digits - 1) - 1),
        "maximum": 10**most_digits - 1,
    }


# external_id: a string or an integer (numeric catalog IDs), as text at most 255.
_KEY = {"anyOf": [_text(KEY_MAX), _whole_number(KEY_MAX)]}
# A photo or batch ID travels as one catalog URL segment (studio_catalog_id_error).
_CATALOG_CHARACTERS = "A-Za-z0-9_.~=+:@-"
_CATALOG_ID = {
    "anyOf": [
        {
            **_text(KEY_MAX, only=_CATALOG_CHARACTERS),
            "pattern": "^[A-Za-z0-9_~=+:@-]",
            "description": "Not starting with a dot",
        },
        _whole_number(KEY_MAX),
    ]
}
_UUID = {
    "type": "string",
    "format": "uuid",
    "minLength": 36,
    "maxLength": 36,
    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}
# A probe's numbers: what a 32-bit float holds (app/routes/recognize.py).
_PROBE_VALUE = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}
# A stored number is read by PostgreSQL's float4 input (studio_float4_fits),
# which refuses what rounds to infinity or, unless it is 0, to zero.
_ROUNDS_TO_ZERO = {
    "type": "number",
    "minimum": -FLOAT4_ROUNDS_TO_ZERO,
    "maximum": FLOAT4_ROUNDS_TO_ZERO,
    "not": {"const": 0},
}
_STORED_VALUE = {
    "type": "number",
    "minimum": -FLOAT4_ROUNDS_FINITE,
    "maximum": FLOAT4_ROUNDS_FINITE,
    "not": _ROUNDS_TO_ZERO,
}


def _embedding(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "array",
        "items": value,
        "minItems": DIMENSIONS,
        "maxItems": DIMENSIONS,
        "contains": {"not": {"const": 0}},
        "description": f"{DIMENSIONS} numbers that 32-bit floats hold, not all zero",
    }


_PROBE = _embedding(_PROBE_VALUE)
_EMBEDDING = _embedding(_STORED_VALUE)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR_RESPONSES = {
    "400": {"$ref": "#/components/responses/ValidationFailed"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
    "503": {"$ref": "#/components/responses/Unavailable"},
}

BODY_ERRORS = {
    "413": {"$ref": "#/components/responses/PayloadTooLarge"},
    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
}

_LEASE_SECONDS = {
    "type": "integer",
    "minimum": LEASE_SECONDS[0],
    "maximum": LEASE_SECONDS[1],
    "default": 300,
}
_JOB_FIELDS = {
    "progress": {
        "type": "object",
        "description": f"At most {JOB_FIELD_BYTES['progress']:,} bytes of JSON",
    },
    "result": {
        "type": "object",
        "description": f"At most {JOB_FIELD_BYTES['result']:,} bytes of JSON",
    },
    "error": {
        "type": "string",
        "pattern": "[^ ]",
        "not": {"pattern": "\\u0000"},
        "description": f"Why; not blank, at most {JOB_FIELD_BYTES['error']:,} bytes",
    },
}


def _worker_request(required: list[str], **properties: Any) -> dict[str, Any]:
    """A worker's request body: exactly these fields (studio_worker_request_errors)."""
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def recognize_request(models: list[str]) -> dict[str, Any]:
    """Probes to identify (app/routes/recognize.py): a list, or one `embedding`."""
    properties = {
        "probes": {"type": "array", "minItems": 1, "maxItems": MAX_PROBES, "items": _PROBE},
        "embedding": {**_PROBE, "description": "One probe, instead of probes"},
        "k": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 5},
        "model": {"enum": models, "description": "Default: the server's STUDIO_MODEL"},
        "search": {"enum": list(SEARCH_PATHS), "default": "auto"},
        "record_sighting": {"type": "boolean", "default": False},
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "oneOf": [{"required": ["probes"]}, {"required": ["embedding"]}],
    }
