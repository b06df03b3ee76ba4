"""GroundTruth Studio identity sync: the Flask application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import errors, metrics
from app.body_limit import BoundedRequest
from app.config import Settings
from app.db import Database
from app.embedded_db import database_url


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """Build the app. `config` is a Settings, or overrides for Settings.from_env()."""
    settings = config if isinstance(config, Settings) else Settings.from_env(**(config or {}))
    app = Flask(__name__)
    app.request_class = BoundedRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.extensions["studio_settings"] = settings
    database = Database(
        database_url(settings),
        pool_size=settings.pool_size,
        application_name="studio-api",
        statement_timeout=settings.statement_timeout,
    )
    app.extensions["studio_db"] = database

    from app.routes import gallery, identities, meta, recognize, sightings, training

    app.register_blueprint(meta.bp)
    app.register_blueprint(identities.bp)
    app.register_blueprint(training.bp)
    app.register_blueprint(recognize.bp)
    app.register_blueprint(gallery.bp)
    app.register_blueprint(sightings.bp)
    errors.register(app)
    metrics.register(app)
    return app
