"""schemathesis against /api/v1/openapi.json, in-process through the app's WSGI: no input
it generates gets a 5xx, and every answer matches the schema. Bounded to stay fast."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.handlers.staff.factories import make_staff, make_ticket, token_for


@pytest.fixture
def bearer(db):
    make_staff(db, "li", "supervisor", "T01", "李姐")
    make_ticket(db, "T01")
    return {"Authorization": f"Bearer {token_for(db, 'li')}"}


def test_api_answers_every_generated_request_without_5xx_and_within_its_schema(app, bearer):
    # Driven by hand rather than by schemathesis' pytest plugin (which does not load
    # with this pytest): every operation, a bounded number of examples each.
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    statuses: list[int] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_within_the_schema(case):
            response = case.call_and_validate(headers=bearer, checks=[not_a_server_error, response_schema_conformance])
            statuses.append(response.status_code)

        answers_within_the_schema()
    # It reached the handlers, not only the authentication in front of them.
    assert {200, 404, 422} <= set(statuses), sorted(set(statuses))
