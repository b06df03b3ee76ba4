"""What a camera can be recognised against: the gallery's size per model."""

from __future__ import annotations

from flask import Blueprint, current_app, g

from app import queries
from app.auth import require
from app.routes.common import database

bp = Blueprint("gallery", __name__)


@bp.get("/api/gallery")
@require("recognize")
def gallery():
    """Identities and reference faces per model, of the caller's source systems
    only; a camera checks here that its model has anyone to recognise."""
    rows = database().fetch_all(queries.GALLERY_SUMMARY, sources=g.caller.allowed_sources)
    return {
        "success": True,
        "default_model": current_app.extensions["studio_settings"].model,
        "models": [
            {"model": model, "identities": identities, "references": references}
            for model, identities, references in rows
        ],
    }
