"""problem+json, request ids, metrics and auth wiring of `build_app`."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from aurora_shared.auth import Principal, current_principal
from aurora_shared.config import ServiceSettings
from aurora_shared.errors import NotFoundError
from aurora_shared.logging import JsonFormatter, request_id_var, sanitize_request_id
from aurora_shared.service import build_app
from aurora_shared.testing.service import running_app
from aurora_shared.testing.tokens import TestIssuer

KitClient = tuple[httpx.AsyncClient, TestIssuer]


class Body(BaseModel):
    value: int = Field(ge=0, le=10)
    secret: str


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/things")
    async def create(body: Body) -> dict[str, int]:
        return {"value": body.value}

    @router.get("/things/{thing_id}")
    async def read(
        thing_id: uuid.UUID, who: Principal = Depends(current_principal)
    ) -> dict[str, str]:
        raise NotFoundError("thing")

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail that must not leak")

    @router.get("/rid")
    async def rid() -> dict[str, str | None]:
        return {"request_id": request_id_var.get()}

    return router


@pytest.fixture
async def client(
    database_url: str, redis_url: str, redis: Redis
) -> AsyncIterator[tuple[httpx.AsyncClient, TestIssuer]]:
    """`redis`: the flushed test Redis with the revocation cache marked ready."""
    issuer = TestIssuer()
    settings = ServiceSettings(service_name="kit", database_url=database_url, redis_url=redis_url)
    app = build_app(
        settings, title="kit", description="", routers=[_router()], key_source=issuer.key_source()
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http, issuer


async def test_validation_error_is_problem_json_without_echoing_input(client: KitClient) -> None:
    http, _ = client
    response = await http.post("/things", json={"value": 99, "secret": "hunter2"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and body["title"] and "body.value" in body["detail"]
    assert "hunter2" not in response.text


async def test_malformed_json_is_422_problem(client: KitClient) -> None:
    http, _ = client
    response = await http.post(
        "/things", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_unexpected_error_is_500_problem_without_details(client: KitClient) -> None:
    http, _ = client
    response = await http.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text


async def test_missing_token_is_401_and_not_found_is_404(client: KitClient) -> None:
    http, issuer = client
    thing = uuid.uuid4()
    missing = await http.get(f"/things/{thing}")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    found = await http.get(f"/things/{thing}", headers=issuer.headers(uuid.uuid4()))
    assert found.status_code == 404
    assert found.json()["detail"] == "thing not found"


async def test_request_id_is_kept_or_generated(client: KitClient) -> None:
    http, _ = client
    kept = await http.get("/rid", headers={"X-Request-ID": "trace-42"})
    assert kept.json() == {"request_id": "trace-42"}
    assert kept.headers["x-request-id"] == "trace-42"
    made = await http.get("/rid", headers={"X-Request-ID": "bad\x01id" * 50})
    assert made.headers["x-request-id"] == made.json()["request_id"]
    assert len(made.headers["x-request-id"]) == 32


async def test_metrics_endpoint_counts_requests_by_route_template(client: KitClient) -> None:
    http, issuer = client
    await http.get(f"/things/{uuid.uuid4()}", headers=issuer.headers(uuid.uuid4()))
    text = (await http.get("/metrics")).text
    assert 'route="/things/{thing_id}"' in text
    assert "aurora_http_requests_total" in text


async def test_readyz_reports_dependencies(client: KitClient) -> None:
    http, _ = client
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_readyz_is_503_when_redis_is_unreachable(database_url: str) -> None:
    settings = ServiceSettings(
        service_name="kit", database_url=database_url, redis_url="redis://127.0.0.1:1/0"
    )
    app = build_app(settings, title="kit", description="", routers=[])
    async with running_app(app) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["redis"].startswith("unavailable")


def test_json_log_lines_carry_the_request_id() -> None:
    formatter = JsonFormatter("kit")
    token = request_id_var.set("rid-7")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
        record.event_id = "e1"
        line = json.loads(formatter.format(record))
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "hello you"
    assert line["request_id"] == "rid-7"
    assert line["service"] == "kit"
    assert line["event_id"] == "e1"


def test_request_id_sanitizing() -> None:
    assert sanitize_request_id("abc") == "abc"
    assert sanitize_request_id(None) != sanitize_request_id(None)
    assert len(sanitize_request_id("x" * 500)) == 32
