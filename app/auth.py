"""Bearer tokens: who is calling, with which scopes, for which source systems."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, g, request

from app import queries
from app.errors import ApiError

SCOPES = (
    "identities:read",
    "identities:write",
    "embeddings:write",
    "jobs:submit",
    "jobs:work",
    "recognize",
    "metrics",
    "sightings:read",
    "sightings:write",
    "admin",
)


@dataclass(frozen=True)
class Caller:
    token_id: str
    name: str
    scopes: tuple[str, ...]
    source_systems: tuple[str, ...] | None  # None: any source system

    def has(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    @property
    def label(self) -> str:
        """How the audit journal names this caller."""
        return f"token:{self.name}"

    @property
    def allowed_sources(self) -> list[str] | None:
        return list(self.source_systems) if self.source_systems is not None else None


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="studio"'}
    )


def authenticate() -> Caller:
    """The caller of the current request. Raises ApiError 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("send an API token: Authorization: Bearer <token>")
    row = current_app.extensions["studio_db"].fetch_one(queries.AUTHENTICATE_TOKEN, token.strip())
    if row is None:
        raise _unauthorized("the token is unknown, revoked or expired")
    token_id, name, scopes, sources = row
    return Caller(
        str(token_id), name, tuple(scopes), tuple(sources) if sources is not None else None
    )


def require(scope: str) -> Callable:
    """Decorate a view so it runs only for a token holding `scope` (or admin)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope}")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            caller = authenticate()
            if not caller.has(scope):
                raise ApiError(403, "forbidden", f"this token lacks the {scope} scope")
            g.caller = caller
            return view(*args, **kwargs)

        wrapped.required_scope = scope  # read by the OpenAPI test
        return wrapped

    return decorate
