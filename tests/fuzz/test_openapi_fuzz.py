"""schemathesis against /api/openapi.json: no 5xx, every response as documented,
every rejection a 4xx with the error envelope; with a valid token and without.

schemathesis drives hypothesis over each operation's strategy directly (its
pytest plugin does not load under this pytest).
"""

from __future__ import annotations

import pytest
import schemathesis
from helpers import make_token
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

FUZZ = settings(
    max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


def _check_envelope(response):
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        body = response.json()
        assert body["success"] is False and body["error"] and body["errors"], body


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.slow
def test_every_operation_with_a_token(app, conn):
    headers = {"Authorization": f"Bearer {make_token(conn, ['admin'])}"}
    operations = _operations(app)
    assert len(operations) >= 12
    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(headers=headers)
            _check_envelope(response)
            # Auth refusal is the other test's subject (ignored_auth replays the
            # request with mangled credentials the header here overrides). The
            # document is looser than the SQL rules it cannot express (URL, path
            # and image-data detection), so schema-valid data may be refused
            # with a 400: that is checked by the envelope, not as an error.
            case.validate_response(
                response, excluded_checks=[ignored_auth, positive_data_acceptance]
            )

        run()
    for recognizer in app.extensions.get("studio_recognizers", {}).values():
        recognizer.close()


@pytest.mark.slow
def test_every_operation_without_a_token(app):
    for operation in _operations(app):

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call()
            _check_envelope(response)
            if case.path.startswith("/api/") and case.path != "/api/openapi.json":
                # 404 when the generated path matches no route (a negative job id).
                assert response.status_code in (401, 404)

        run()
