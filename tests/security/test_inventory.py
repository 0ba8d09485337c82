"""API inventory and misconfiguration (checklist 38, 39, 43, 44) over all four apps.

Every route of every app is found in `app.routes`: each must be in the OpenAPI
document and need a principal, unless it is on the explicit allow-lists below.
Then the documents themselves are read: no response schema may carry secrets,
and every list endpoint must bound its page size.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from aurora_shared.testing.service import running_app
from aurora_shared.testing.tokens import TestIssuer

from .stack import (
    SERVICES,
    Endpoint,
    Target,
    endpoints,
    flat_routes,
    is_protected,
    make_app,
    settings_for,
)

# Anonymous by design. Patterns use fnmatch; "{svc}" is the app's own name.
PUBLIC = {
    "GET /healthz": "liveness probe",
    "GET /readyz": "readiness probe",
    "GET /metrics": "scraped on the private network; the gateway does not route it",
    "GET /docs/{svc}": "Swagger UI, disabled in production (AURORA_<SVC>_DOCS_ENABLED=false)",
    "GET /docs/oauth2-redirect": "Swagger UI helper, disabled with the docs",
    "GET /openapi/{svc}.json": "the OpenAPI document, disabled with the docs",
    "GET /.well-known/jwks.json": "public keys every service verifies tokens with",
    "POST /auth/register": "self-registration",
    "POST /auth/login": "exchanges a password for tokens",
    "POST /auth/refresh": "exchanges a refresh token (itself the credential) for tokens",
    "* /webhooks/*": "provider callbacks, authenticated by the provider's signature",
    "GET /connections/{provider}/callback": (
        "OAuth redirect from the provider; the user is the one named in the signed, "
        "single-use state"
    ),
}
# Routes that are deliberately absent from the OpenAPI document.
UNDOCUMENTED = {
    "GET /metrics",
    "GET /docs/{svc}",
    "GET /docs/oauth2-redirect",
    "GET /openapi/{svc}.json",
}

# Checklist 38: nothing of this kind in any response, whatever the nesting.
SECRET_NAMES = {
    "password",
    "password_hash",
    "token_hash",
    "refresh_token_hash",
    "private_pem",
    "private_key",
    "access_token_enc",
    "refresh_token_enc",
    "raw",
    "raw_payload",
    "secret",
    "client_secret",
}
# Issued tokens may appear only where they are issued.
TOKEN_NAMES = {"access_token", "refresh_token"}
TOKEN_ISSUERS = {("identity", "post", "/auth/login"), ("identity", "post", "/auth/refresh")}


def _allowed(table: dict[str, str] | set[str], endpoint: Endpoint, service: str) -> bool:
    return any(
        fnmatch.fnmatchcase(endpoint.name, pattern.replace("{svc}", service)) for pattern in table
    )


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _walk(document: dict[str, Any], schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every (resolved) object schema reachable from `schema`, once each."""
    seen: set[int] = set()
    stack = [schema]
    while stack:
        node = _resolve(document, stack.pop())
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(node.get("properties", {}).values())
        for key in ("items", "additionalProperties", "not"):
            if isinstance(node.get(key), dict):
                stack.append(node[key])
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            stack.extend(node.get(key, []))


def _responses(document: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                for media in response.get("content", {}).values():
                    if "schema" in media:
                        yield method, path, status, media["schema"]


# -- 44: inventory -----------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_is_an_http_endpoint(targets: dict[str, Target], service: str) -> None:
    """No mount, websocket or catch-all escapes the checks below."""
    odd = [repr(r) for r in flat_routes(targets[service].app) if not getattr(r, "methods", None)]
    assert not odd, f"routes the inventory cannot check: {odd}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_is_in_the_openapi_document(targets: dict[str, Target], service: str) -> None:
    app = targets[service].app
    paths = app.openapi()["paths"]
    missing = [
        e.name
        for e in endpoints(app)
        if e.method.lower() not in paths.get(e.path, {}) and not _allowed(UNDOCUMENTED, e, service)
    ]
    assert not missing, f"{service} routes absent from its OpenAPI document: {missing}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_needs_a_principal_unless_allow_listed(
    targets: dict[str, Target], service: str
) -> None:
    anonymous = [
        e.name
        for e in endpoints(targets[service].app)
        if not is_protected(e) and not _allowed(PUBLIC, e, service)
    ]
    assert not anonymous, f"{service} routes reachable without a token: {anonymous}"


# -- 43: misconfiguration ----------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
async def test_cors_never_echoes_a_foreign_origin(
    targets: dict[str, Target], service: str, ready: Redis
) -> None:
    target = targets[service]
    evil = {"Origin": "https://evil.example"}
    preflight = {
        **evil,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    # One user for every route: if one of them logs it out, the later answers are 401s,
    # which must not carry the headers either.
    authorised = {**evil, **await target.fresh_headers()}
    answers: list[httpx.Response] = []
    for endpoint in endpoints(target.app):
        url = endpoint.url()
        answers.append(await target.client.request(endpoint.method, url, headers=evil))
        answers.append(await target.client.request(endpoint.method, url, headers=authorised))
        answers.append(await target.client.options(url, headers=preflight))
    leaks = [
        f"{r.request.method} {r.request.url.path}: {name}={r.headers[name]}"
        for r in answers
        for name in r.headers
        if name.lower().startswith("access-control-")
    ]
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("service", SERVICES)
async def test_docs_are_off_in_production(
    service: str,
    all_migrated: str,
    redis_url: str,
    issuer: TestIssuer,
    ready: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(f"AURORA_{service.upper()}_DOCS_ENABLED", "false")
    settings = settings_for(service, all_migrated, redis_url)
    assert settings.docs_enabled is False, "the env switch did not reach the settings"
    urls = [
        f"/docs/{service}",
        f"/openapi/{service}.json",
        "/docs/oauth2-redirect",
        "/docs",
        "/redoc",
        "/openapi.json",
    ]
    async with running_app(make_app(service, settings, issuer)) as client:
        for url in urls:
            response = await client.get(url)
            assert response.status_code == 404, f"{url}: {response.status_code}"
            assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("service", SERVICES)
async def test_docs_are_served_when_enabled(targets: dict[str, Target], service: str) -> None:
    """The control of the test above: the same URLs exist when the switch is on."""
    client = targets[service].client
    assert (await client.get(f"/docs/{service}")).status_code == 200
    document = await client.get(f"/openapi/{service}.json")
    assert document.status_code == 200 and document.json()["paths"]


# -- 39: resource consumption ------------------------------------------------------------


def _is_list(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    resolved = _resolve(document, schema)
    if resolved.get("type") == "array":
        return True
    items = resolved.get("properties", {}).get("items")
    return items is not None and _resolve(document, items).get("type") == "array"


def _list_endpoints(target: Target) -> list[tuple[Endpoint, dict[str, Any]]]:
    document = target.app.openapi()
    found = []
    for endpoint in endpoints(target.app):
        operation = document["paths"].get(endpoint.path, {}).get(endpoint.method.lower())
        if endpoint.method != "GET" or operation is None:
            continue
        ok = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        if ok and _is_list(document, ok["schema"]):
            found.append((endpoint, operation))
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_list_endpoint_declares_a_bounded_limit(
    targets: dict[str, Target], service: str
) -> None:
    unbounded = []
    for endpoint, operation in _list_endpoints(targets[service]):
        limit = next((p for p in operation.get("parameters", []) if p["name"] == "limit"), None)
        maximum = (limit or {}).get("schema", {}).get("maximum")
        if maximum is None or maximum > 1000:
            unbounded.append(f"{endpoint.name}: limit {limit}")
    assert not unbounded, "\n".join(unbounded)


@pytest.mark.parametrize("service", SERVICES)
async def test_huge_limit_is_refused(
    targets: dict[str, Target], service: str, ready: Redis
) -> None:
    target = targets[service]
    headers = await target.fresh_headers()
    wrong = []
    for endpoint, _ in _list_endpoints(target):
        for limit in ("1000000", "0", "-1", "1e9", "99999999999999999999"):
            response = await target.client.get(
                endpoint.url(), params={"limit": limit}, headers=headers
            )
            if response.status_code != 422:
                wrong.append(f"{endpoint.name}?limit={limit}: {response.status_code}")
            elif response.headers["content-type"] != "application/problem+json":
                wrong.append(f"{endpoint.name}?limit={limit}: {response.headers['content-type']}")
    assert not wrong, "\n".join(wrong)


# -- 38: property-level authorization ----------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_no_response_schema_exposes_secrets(targets: dict[str, Target], service: str) -> None:
    document = targets[service].app.openapi()
    exposed = []
    for method, path, status, schema in _responses(document):
        for node in _walk(document, schema):
            for name in node.get("properties", {}):
                lowered = name.lower()
                if (
                    lowered in SECRET_NAMES
                    or lowered.endswith("_enc")
                    or ("password" in lowered and not lowered.endswith("_at"))
                ):
                    exposed.append(f"{method.upper()} {path} {status}: {name}")
                if lowered in TOKEN_NAMES and (service, method, path) not in TOKEN_ISSUERS:
                    exposed.append(f"{method.upper()} {path} {status}: {name}")
    assert not exposed, "\n".join(exposed)


@pytest.mark.parametrize("service", SERVICES)
def test_response_models_forbid_extra_fields(targets: dict[str, Target], service: str) -> None:
    """`extra="forbid"` shows as additionalProperties: false; a model without it could
    pass an ORM object's extra attributes through."""
    document = targets[service].app.openapi()
    names = document.get("components", {}).get("schemas", {})
    loose = set()
    for method, path, status, schema in _responses(document):
        if not status.startswith("2"):
            continue
        for node in _walk(document, schema):
            if node.get("properties") and node.get("additionalProperties") is not False:
                title = node.get("title") or "?"
                if title in names or not node.get("title"):
                    loose.add(f"{method.upper()} {path} {status}: {title}")
    assert not loose, "\n".join(sorted(loose))


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_documents_auth_and_problems_as_served(
    targets: dict[str, Target], service: str
) -> None:
    """Clients and fuzzers read the document: bearer security on exactly the protected
    operations, and every error (401, 422, the rest) as a problem+json document."""
    app = targets[service].app
    document = app.openapi()
    protected_ops = {(e.method.lower(), e.path) for e in endpoints(app) if is_protected(e)}
    wrong = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            secured = operation.get("security") == [{"bearer": []}]
            if secured != ((method, path) in protected_ops):
                wrong.append(f"{name}: security {operation.get('security')}")
            responses = operation["responses"]
            expected = ["default", "422" if "422" in responses else None]
            expected.append("401" if (method, path) in protected_ops else None)
            for status in filter(None, expected):
                content = responses.get(status, {}).get("content", {})
                if list(content) != ["application/problem+json"]:
                    wrong.append(f"{name} {status}: {list(content)}")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert not wrong, "\n".join(wrong)
