"""Schemathesis against identity's own OpenAPI document (issue 3: "in CI, bounded").

Each documented operation gets a bounded, derandomized set of generated requests,
valid and invalid ones, signed in as a registered athlete (as an admin for the
admin-only operations): none may answer 5xx, and each answer must match the
media type and schema documented for its status.

Schemathesis' own pytest integration (`schema.parametrize`) needs a pytest
internal that pytest 9 removed (`Node._nodeid`), so the operations are
parametrized here and each runs schemathesis' Hypothesis strategy directly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from redis.asyncio import Redis
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from aurora_shared.config import asyncpg_url
from aurora_shared.testing.service import running_app
from aurora_shared.testing.tokens import TestIssuer

from .stack import make_app, register_and_login, settings_for

# Bounded for CI; raise it locally (AURORA_FUZZ_EXAMPLES=500) for a deeper run.
EXAMPLES_PER_OPERATION = int(os.environ.get("AURORA_FUZZ_EXAMPLES", "20"))
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
# Operations only an admin gets past the role check of; everything else runs as an athlete.
ADMIN_PATHS = (" /admin/", " /audit", " /auth/keys/")


def _cases() -> list[Any]:
    """Read at collection time from the app's document; no server is needed for that.

    An operation without parameters or body has no invalid request to generate."""
    offline = settings_for("identity", "postgresql://offline/none", "redis://offline")
    document: dict[str, Any] = make_app("identity", offline, TestIssuer()).openapi()
    cases = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            cases.append(pytest.param(label, GenerationMode.POSITIVE, id=f"{label}-positive"))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append(pytest.param(label, GenerationMode.NEGATIVE, id=f"{label}-negative"))
    return cases


@pytest.fixture(scope="module")
async def identity_tokens(all_migrated: str, redis_url: str, issuer: TestIssuer) -> dict[str, str]:
    """One athlete and one admin for the module (the admin is promoted in the table: no
    endpoint makes the first admin). If an operation logs a user out, the next test's
    fresh Redis forgets the revocation; identity's own database checks may not."""
    app = make_app("identity", settings_for("identity", all_migrated, redis_url), issuer)
    admin_email = f"sec-admin-{uuid.uuid4().hex[:8]}@example.com"
    async with running_app(app) as client:
        athlete = await register_and_login(client)
        await register_and_login(client, admin_email)
        conn = await asyncpg.connect(asyncpg_url(all_migrated))
        try:
            await conn.execute(
                "UPDATE identity.users SET role = 'admin' WHERE email = $1", admin_email
            )
        finally:
            await conn.close()
        admin = await register_and_login(client, admin_email)
    return {"athlete": athlete, "admin": admin}


@pytest.fixture
def identity_schema(
    all_migrated: str, redis_url: str, issuer: TestIssuer, ready: Redis
) -> Iterator[schemathesis.BaseSchema]:
    """Served in-process: schemathesis runs the app's lifespan in a thread of its own."""
    app = make_app("identity", settings_for("identity", all_migrated, redis_url), issuer)
    try:
        yield schemathesis.openapi.from_asgi("/openapi/identity.json", app)
    finally:
        shutdown_lifespans()


@pytest.mark.parametrize(("label", "mode"), _cases())
def test_identity_operation(
    identity_schema: schemathesis.BaseSchema,
    identity_tokens: dict[str, str],
    label: str,
    mode: GenerationMode,
) -> None:
    operation = identity_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the served document"
    role = "admin" if any(part in label for part in ADMIN_PATHS) else "athlete"
    headers = {"Authorization": f"Bearer {identity_tokens[role]}"}

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
