"""Recognition: probe embeddings in, identities and decisions out."""

from __future__ import annotations

import json
import threading

import numpy as np
from flask import Blueprint, current_app, g

from app import queries
from app.auth import require
from app.errors import ApiError, invalid_field
from app.limits import DIMENSIONS, FLOAT32_MAX, MAX_K, MAX_PROBES, SEARCH_PATHS
from app.metrics import DECISIONS
from app.person_recognizer import THRESHOLDS, PersonRecognizer, identified_ids, record_sightings
from app.routes.common import database, json_body_text, read_database

bp = Blueprint("recognize", __name__)

# What a recognize body may hold: a typo ("record_sightings") is refused, not
# silently ignored.
FIELDS = ("probes", "embedding", "k", "model", "search", "record_sighting")


def default_model() -> str:
    return current_app.extensions["studio_settings"].model


def known_models() -> list[str]:
    """The models a probe may name: this server's default, those with default
    thresholds in code, and every model calibrated in the database. Each gets a
    gallery cache and a LISTEN connection, so only these."""
    calibrated = [model for (model,) in database().fetch_all(queries.CALIBRATED_MODELS)]
    return sorted({default_model(), *THRESHOLDS, *calibrated})


_making = threading.RLock()


def recognizer_for(model: str) -> PersonRecognizer:
    """One recognizer (in-memory gallery + its follower thread) per model and process."""
    recognizers = current_app.extensions.setdefault("studio_recognizers", {})
    if model not in recognizers:
        settings = current_app.extensions["studio_settings"]
        with _making:
            if model not in recognizers:
                recognizers[model] = PersonRecognizer(
                    read_database(), model, poll_interval=settings.gallery_poll_ms / 1000
                )
    return recognizers[model]


def _body() -> dict:
    """The request body as a JSON object. Raises ApiError 400 or 415."""
    try:
        # Standard JSON only, as PostgreSQL reads it: no NaN or Infinity.
        body = json.loads(json_body_text(), parse_constant=_refuse_constant)
    except RecursionError:
        raise ApiError(400, "payload_too_complex", "the JSON is nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise invalid_field("$", "invalid_type", "the body must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise invalid_field(
            unknown[0], "unknown_field", f"unknown field; expected one of: {', '.join(FIELDS)}"
        )
    return body


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _probes(body: dict) -> np.ndarray:
    """The probes as unit float32 rows. Raises ApiError 400."""
    if "probes" in body and "embedding" in body:
        raise invalid_field("embedding", "invalid_value", "send probes or embedding, not both")
    field = "embedding" if "embedding" in body else "probes"
    probes = [body["embedding"]] if field == "embedding" else body.get("probes")
    if not isinstance(probes, list) or not 1 <= len(probes) <= MAX_PROBES:
        raise invalid_field(
            "probes", "invalid_type", f"probes must be a list of 1 to {MAX_PROBES} embeddings"
        )
    rows = []
    for i, probe in enumerate(probes):
        name = field if field == "embedding" else f"probes[{i}]"
        message = f"each probe must be {DIMENSIONS} finite 32-bit numbers, not all zero"
        if (
            not isinstance(probe, list)
            or len(probe) != DIMENSIONS
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in probe)
        ):
            raise invalid_field(name, "invalid_value", message)
        try:
            row = np.asarray(probe, dtype=np.float64)
        except OverflowError:  # an integer past any float
            raise invalid_field(name, "invalid_value", message) from None
        if not np.all(np.isfinite(row)) or np.any(np.abs(row) > FLOAT32_MAX) or not row.any():
            raise invalid_field(name, "invalid_value", message)
        # A probe is a direction: made a unit vector here, in 64 bits, so that
        # tiny or huge components neither vanish nor overflow in 32 bits.
        row = row / np.abs(row).max()
        rows.append(row / np.linalg.norm(row))
    return np.asarray(rows, dtype=np.float32)


@bp.post("/api/recognize")
@require("recognize")
def recognize():
    """Identify probe faces: one result per probe, with the top-k candidates."""
    body = _body()
    k = body.get("k", 5)
    # 5.0 is the integer 5 in JSON (and to JSON Schema): taken as one.
    if isinstance(k, float) and k.is_integer():
        k = int(k)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise invalid_field("k", "out_of_range", f"k must be from 1 to {MAX_K}")
    search = body.get("search", "auto")
    if not isinstance(search, str) or search not in SEARCH_PATHS:
        raise invalid_field("search", "invalid_value", 'search must be "auto", "exact" or "ann"')
    record_sighting = body.get("record_sighting", False)
    if not isinstance(record_sighting, bool):
        raise invalid_field("record_sighting", "invalid_type", "record_sighting must be a boolean")
    model = body.get("model", default_model())
    known = known_models()
    if not isinstance(model, str) or model not in known:
        raise invalid_field("model", "invalid_value", f"model must be one of: {', '.join(known)}")
    recognizer = recognizer_for(model)
    # A token bound to source systems searches and stamps only their identities.
    sources = g.caller.allowed_sources
    probes = _probes(body)
    # Read once, so that the answer names the thresholds its decisions used.
    thresholds = recognizer.thresholds
    matches = recognizer.match(probes, k=k, search=search, sources=sources, thresholds=thresholds)
    for match in matches:
        DECISIONS.labels(match.decision).inc()
    recorded = 0
    if record_sighting:
        # A write: to the primary, whichever database the recognizer reads.
        recorded = record_sightings(database(), identified_ids(matches), sources)
    return {
        "success": True,
        "model": model,
        "search": recognizer.search_path(search),
        "thresholds": thresholds.to_json(),
        "results": [m.to_json() for m in matches],
        "sightings_recorded": recorded,
    }
