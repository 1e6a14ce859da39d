"""Property-based API tests: schemathesis drives every operation on deals and accounts
and the metadata reads.

Requests are generated from the served OpenAPI document and sent to the app in
process (WSGI) as the demo admin; each response must not be a server error, must
have a documented status code and must match its documented schema. Bounded and
deterministic (few examples per operation, derandomized), so it runs in CI.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.support import token_for

#: Entities whose every operation is exercised (the rest share the same code).
ENTITIES = ("deal", "account")
#: Operations per entity: list, create, query, bulk, aggregate (GET, POST), get, patch, delete,
#: runs.
OPERATIONS_PER_ENTITY = 10
#: Generated examples per operation.
MAX_EXAMPLES = 5
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def auth_headers(app):
    return {"Authorization": f"Bearer {token_for(app, 'admin')}"}


def wanted(operation) -> bool:
    """Every operation on ENTITIES, and the metadata reads (never its writes: they migrate)."""
    return bool(re.match(rf"^/({'|'.join(ENTITIES)})(/|$)", operation.path)) or (
        operation.path.startswith("/meta/") and operation.method.upper() == "GET")


def operations(app, headers):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    return [op for op in (result.ok() for result in schema.get_all_operations()) if wanted(op)]


def test_every_deal_and_account_operation_conforms_to_the_document(app, auth_headers):
    failures = []
    ran = []
    for operation in operations(app, auth_headers):

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def conforms(case):
            case.call_and_validate(headers=auth_headers, checks=CHECKS)

        try:
            conforms()
        except Exception as error:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.label}: {error}")
        ran.append(operation.label)
    assert len([r for r in ran if "/meta/" not in r]) == len(ENTITIES) * OPERATIONS_PER_ENTITY, ran
    assert not failures, "\n\n".join(failures)


def test_every_deal_and_account_operation_refuses_what_the_document_forbids(app, auth_headers):
    """Negative mode: requests the document forbids (wrong JSON types, missing or extra
    keys, out-of-range parameters) get a 4xx, never a 2xx and never a server error."""
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import negative_data_rejection

    failures = []
    for operation in operations(app, auth_headers):

        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def refuses(case):
            case.call_and_validate(headers=auth_headers,
                                   checks=[not_a_server_error, negative_data_rejection])

        try:
            refuses()
        except Exception as error:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.label}: {str(error)[:2000]}")
    assert not failures, "\n\n".join(failures)
