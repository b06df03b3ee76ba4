"""The request body limit, for every way a body can be framed.

werkzeug enforces MAX_CONTENT_LENGTH against a Content-Length header, but a
body without one (chunked, or read until the connection closes) is only read
*up to* the limit: the rest is silently dropped, so a JSON document valid up
to the limit is applied with its tail cut off. Here such a body is read one
byte past the limit, and that byte means 413 before any view sees the body.
"""

from __future__ import annotations

from typing import IO

from flask import Request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream


class _BodyAtMost(LimitedStream):
    """A stream of at most `limit` bytes that raises 413 when the client sent more."""

    def __init__(self, stream: IO[bytes], limit: int):
        # One byte of headroom: reaching it is the proof of an oversized body.
        super().__init__(stream, limit + 1, is_max=True)
        self.max_bytes = limit

    def readinto(self, b: bytearray) -> int | None:  # type: ignore[override]
        try:
            count = super().readinto(b)
        except HTTPException:
            raise
        except Exception as exc:
            # The server's de-chunking refused the framing (a chunk size that
            # is not hex, a missing CRLF): the body cannot be read, the
            # client's fault.
            raise BadRequest(f"the chunked body is malformed: {exc}") from exc
        if self.tell() > self.max_bytes:
            raise RequestEntityTooLarge()
        return count


class BoundedRequest(Request):
    """Flask's request, with the body limit enforced when there is no Content-Length."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        # The server marks a stream it terminates itself (gunicorn always, the
        # werkzeug server for chunked bodies); werkzeug gives an empty stream
        # otherwise, and checks a Content-Length before reading.
        if (
            limit is None
            or self.shallow
            or self.content_length is not None
            or "wsgi.input_terminated" not in self.environ
        ):
            return super().stream
        return _BodyAtMost(self.environ["wsgi.input"], limit)
