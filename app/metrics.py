"""Prometheus metrics at /metrics: requests and latency per endpoint, decisions by
kind, gallery size per model, jobs by state.

gunicorn serves with several processes, so counters use prometheus_client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by `studio serve`); the
gallery and job figures are read from PostgreSQL at scrape time, so every
process reports the same truth.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from app import queries
from app.auth import authenticate
from app.errors import ApiError

REQUESTS = Counter("studio_http_requests_total", "HTTP requests", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "studio_http_request_seconds",
    "HTTP request latency",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DECISIONS = Counter("studio_recognition_decisions_total", "Recognition decisions", ["decision"])


class DatabaseCollector:
    """Gallery size and jobs by state, read when Prometheus scrapes."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        database = self.app.extensions["studio_db"]
        gallery = GaugeMetricFamily(
            "studio_gallery_references", "Reference faces in the gallery", labels=["model"]
        )
        jobs = GaugeMetricFamily("studio_jobs", "Jobs by state", labels=["state"])
        try:
            for model, count in database.fetch_all(queries.GALLERY_SIZES):
                gallery.add_metric([model], count)
            # Every state of the job_state type, those without jobs as 0.
            for state, count in database.fetch_all(queries.JOBS_BY_STATE):
                jobs.add_metric([state], count)
        except Exception:  # the database is away: report what the processes know
            return
        yield gallery
        yield jobs


def _authorise() -> None:
    """Raise ApiError 401 without a valid token, 403 without the metrics scope or
    for a token bound to source systems."""
    caller = authenticate()
    if not caller.has("metrics"):
        raise ApiError(403, "forbidden", "this token lacks the metrics scope")
    if caller.source_systems is not None:
        raise ApiError(
            403,
            "forbidden",
            "/metrics counts every source system's gallery and jobs; read it with a token "
            "not bound to source systems",
        )


def register(app: Flask) -> None:
    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def _count(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        started = getattr(g, "request_started", None)
        if started is not None:
            LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - started)
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        return response

    @app.get("/metrics")
    def metrics():
        """Prometheus exposition, for a token with the metrics scope that is bound to
        no source system (the figures cover all of them), or for anyone when
        STUDIO_METRICS_PUBLIC is set."""
        if not app.extensions["studio_settings"].metrics_public:
            _authorise()
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.MultiProcessCollector(registry)
        else:
            for collector in (REQUESTS, LATENCY, DECISIONS):
                registry.register(collector)
        registry.register(DatabaseCollector(app))
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
