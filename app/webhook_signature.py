"""The webhook signature: HMAC-SHA256 over the timestamp, a dot and the body,
sent as `X-Studio-Signature: t=<unix seconds>,v1=<hex digest>`. A receiver
checks it with verify() (docs/events.md shows the same code to copy)."""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Studio-Signature"
# How old a signature a receiver should accept: a replayed request older than
# this is refused even with a valid signature.
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body` signed now (or at `timestamp`)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(secret: str, header: str, body: bytes, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether `header` signs `body` with `secret`, made within `tolerance` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))
