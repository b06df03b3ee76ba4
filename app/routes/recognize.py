"""Recognition: probe embeddings in, identities and decisions out."""

from __future__ import annotations

import numpy as np
from flask import Blueprint, current_app, g, request

from app.auth import require
from app.errors import ApiError, invalid_field
from app.metrics import DECISIONS
from app.person_recognizer import THRESHOLDS, PersonRecognizer, identified_ids, record_sightings

bp = Blueprint("recognize", __name__)

MAX_PROBES = 256
FLOAT32_MAX = float(np.finfo(np.float32).max)


def recognizer_for(model: str) -> PersonRecognizer:
    """One recognizer (gallery cache + NOTIFY listener) per model and process."""
    recognizers = current_app.extensions.setdefault("studio_recognizers", {})
    if model not in recognizers:
        recognizers[model] = PersonRecognizer(current_app.extensions["studio_conninfo"], model)
    return recognizers[model]


def _probes(body: dict) -> np.ndarray:
    probes = body.get("probes", [body["embedding"]] if "embedding" in body else None)
    if not isinstance(probes, list) or not 1 <= len(probes) <= MAX_PROBES:
        raise invalid_field(
            "probes", "invalid_type", f"probes must be a list of 1 to {MAX_PROBES} embeddings"
        )
    rows = []
    for i, probe in enumerate(probes):
        message = "each probe must be 512 finite 32-bit numbers, not all zero"
        if (
            not isinstance(probe, list)
            or len(probe) != 512
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in probe)
        ):
            raise invalid_field(f"probes[{i}]", "invalid_value", message)
        try:
            row = np.asarray(probe, dtype=np.float64)
        except OverflowError:  # an integer past any float
            raise invalid_field(f"probes[{i}]", "invalid_value", message) from None
        if not np.all(np.isfinite(row)) or np.any(np.abs(row) > FLOAT32_MAX) or not row.any():
            raise invalid_field(f"probes[{i}]", "invalid_value", message)
        rows.append(row)
    return np.asarray(rows, dtype=np.float32)


@bp.post("/api/recognize")
@require("recognize")
def recognize():
    """Identify probe faces: one result per probe, with the top-k candidates."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise invalid_field("$", "invalid_type", "the body must be a JSON object")
    k = body.get("k", 5)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
        raise invalid_field("k", "out_of_range", "k must be from 1 to 100")
    search = body.get("search", "auto")
    if search not in ("auto", "exact", "ann"):
        raise invalid_field("search", "invalid_value", 'search must be "auto", "exact" or "ann"')
    default = current_app.extensions["studio_settings"].model
    model = body.get("model", default)
    known = {default, *THRESHOLDS}
    if model not in known:
        # Each model gets a gallery cache and a LISTEN connection: only known ones.
        raise invalid_field(
            "model", "invalid_value", f"model must be one of: {', '.join(sorted(known))}"
        )
    recognizer = recognizer_for(model)
    # A token bound to source systems searches and stamps only their identities.
    sources = g.caller.allowed_sources
    matches = recognizer.match(_probes(body), k=k, search=search, sources=sources)
    for match in matches:
        DECISIONS.labels(match.decision).inc()
    recorded = 0
    if body.get("record_sighting") is True:
        recorded = record_sightings(recognizer.conninfo, identified_ids(matches), sources)
    return {
        "success": True,
        "model": model,
        "search": recognizer.search_path(search),
        "results": [m.to_json() for m in matches],
        "sightings_recorded": recorded,
    }
