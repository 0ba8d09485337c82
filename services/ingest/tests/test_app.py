"""The ingest app's platform surface: health, readiness, problem+json, docs."""

from __future__ import annotations

import httpx


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


async def test_openapi_and_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi/ingest.json", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Aurora ingest"
    assert response.headers["x-request-id"] == "abc-123"
