"""What an error tells a caller (checklist 43): nothing about the code, and nothing at all
to an anonymous caller of a protected route.

The shared factory is exercised with a kit app in production settings (docs off);
the real services are exercised with their database gone, the likeliest source of
an unexpected exception in production.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import text

from aurora_shared.auth import Principal, current_principal
from aurora_shared.config import ServiceSettings
from aurora_shared.service import Runtime, build_app
from aurora_shared.testing.service import running_app
from aurora_shared.testing.tokens import TestIssuer

from .stack import SERVICES, endpoints, is_protected, make_app, problem_401, settings_for

LEAKS = ("Traceback", 'File "', "RuntimeError", "internal detail", "sqlalchemy", "asyncpg")


class Thing(BaseModel):
    name: str


def _kit_router() -> APIRouter:
    router = APIRouter()

    def exploding_dependency() -> None:
        raise RuntimeError("internal detail from a dependency")

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail that must not leak")

    @router.get("/boom-in-dependency", dependencies=[Depends(exploding_dependency)])
    async def boom_in_dependency() -> None: ...

    @router.post("/things")
    async def create(body: Thing, who: Principal = Depends(current_principal)) -> dict[str, str]:
        return {"name": body.name}

    @router.post("/open")
    async def open_(body: Thing) -> dict[str, str]:
        return {"name": body.name}

    @router.post("/stored/{cast}")
    async def stored(body: Thing, cast: Literal["text", "jsonb"], request: Request) -> Any:
        """What any endpoint does with a string no model checked for NUL characters."""
        runtime: Runtime = request.app.state.runtime
        async with runtime.engine.connect() as conn:
            query = text(f"SELECT CAST(:v AS {cast})")
            return {"stored": (await conn.execute(query, {"v": body.name})).scalar_one()}

    return router


@pytest.fixture
async def kit(
    all_migrated: str, redis_url: str, issuer: TestIssuer, ready: Redis
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(
        service_name="kit", database_url=all_migrated, redis_url=redis_url, docs_enabled=False
    )
    app = build_app(
        settings,
        title="kit",
        description="",
        routers=[_kit_router()],
        key_source=issuer.key_source(),
    )
    async with app.router.lifespan_context(app):
        # As a server would: the 500 is answered, and the exception goes to the log only.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as http:
            yield http


@pytest.mark.parametrize("url", ["/boom", "/boom-in-dependency"])
async def test_unexpected_exception_is_a_bare_500_problem(kit: httpx.AsyncClient, url: str) -> None:
    response = await kit.get(url)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "internal error"
    assert not [leak for leak in LEAKS if leak in response.text]


async def test_malformed_body_on_a_protected_route_is_401_before_422(
    kit: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    garbage = b'{"name": '
    as_json = {"content-type": "application/json"}
    anonymous = await kit.post("/things", content=garbage, headers=as_json)
    assert problem_401(anonymous) is None, anonymous.text
    forged_issuer = TestIssuer()
    forged_issuer.kid = issuer.kid  # same kid, another key
    forged_headers = {**as_json, **forged_issuer.headers(uuid.uuid4())}
    forged = await kit.post("/things", content=garbage, headers=forged_headers)
    assert problem_401(forged) is None, forged.text
    # A caller who is who they say still learns what was wrong with the body.
    signed_in_headers = {**as_json, **issuer.headers(uuid.uuid4())}
    signed_in = await kit.post("/things", content=garbage, headers=signed_in_headers)
    assert signed_in.status_code == 422
    assert signed_in.json()["errors"][0]["type"] == "json_invalid"
    # And a public route is not made to ask for a token.
    public = await kit.post("/open", content=garbage, headers=as_json)
    assert public.status_code == 422


@pytest.mark.parametrize(
    ("cast", "value"),
    [("text", "a\x00b"), ("jsonb", '{"k": "\\u0000"}'), ("text", "fine"), ("jsonb", "{}")],
)
async def test_nul_characters_postgres_refuses_are_a_422(
    kit: httpx.AsyncClient, cast: str, value: str
) -> None:
    """PostgreSQL cannot store NUL in text nor \\u0000 in jsonb: the client's input, so 422."""
    response = await kit.post(f"/stored/{cast}", json={"name": value})
    if "\x00" in value or "u0000" in value:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "NUL" in response.json()["detail"]
    else:
        assert response.status_code == 200, response.text


async def test_nul_in_identity_credentials_is_a_422(
    all_migrated: str, redis_url: str, issuer: TestIssuer, ready: Redis
) -> None:
    """Found by schemathesis: a NUL in the login email reached PostgreSQL and answered 500."""
    app = make_app("identity", settings_for("identity", all_migrated, redis_url), issuer)
    async with running_app(app) as client:
        for url in ("/auth/login", "/auth/register"):
            body = {"email": "\x00", "password": "correct horse battery staple"}
            response = await client.post(url, json=body)
            assert 400 <= response.status_code < 500, (url, response.text)
            assert response.headers["content-type"] == "application/problem+json"


async def test_valid_request_still_works(kit: httpx.AsyncClient, issuer: TestIssuer) -> None:
    response = await kit.post("/things", json={"name": "x"}, headers=issuer.headers(uuid.uuid4()))
    assert response.status_code == 200 and response.json() == {"name": "x"}


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "identity"])
async def test_database_outage_leaks_nothing(
    service: str, redis_url: str, issuer: TestIssuer, ready: Redis
) -> None:
    """Identity cannot start without its key table, so it is not in this list."""
    secret = f"pw-{uuid.uuid4().hex[:8]}"
    down = f"postgresql://aurora:{secret}@127.0.0.1:1/aurora"
    app: FastAPI = make_app(service, settings_for(service, down, redis_url), issuer)
    reads = [e for e in endpoints(app) if is_protected(e) and e.method == "GET"]
    assert reads
    headers = {"Authorization": f"Bearer {issuer.mint(uuid.uuid4())}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
            for endpoint in reads:
                response = await http.get(endpoint.url(), headers=headers)
                assert response.status_code in (500, 503), (endpoint.name, response.text)
                assert response.headers["content-type"] == "application/problem+json"
                leaked = [x for x in (*LEAKS, secret, "127.0.0.1:1") if x in response.text]
                assert not leaked, (endpoint.name, response.text)
