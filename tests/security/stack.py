"""The four service apps as the security tests see them: routes, auth, trusted keys.

Everything here is found by introspection (routes from `app.routes`, auth from the
dependency tree), so a route added tomorrow is attacked and inventoried without
anyone remembering to list it.
"""

from __future__ import annotations

import importlib
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from jwt.algorithms import OKPAlgorithm

from aurora_shared.auth import current_principal
from aurora_shared.config import ServiceSettings, asyncpg_url
from aurora_shared.service import ServiceSpec
from aurora_shared.testing.tokens import TestIssuer

SERVICES = ("identity", "ingest", "dedup", "analytics")
PASSWORD = "correct horse battery staple"

_SETTINGS = {
    "identity": "IdentitySettings",
    "ingest": "IngestSettings",
    "dedup": "DedupSettings",
    "analytics": "AnalyticsSettings",
}
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


def spec(service: str) -> ServiceSpec:
    return cast(ServiceSpec, importlib.import_module(f"aurora_{service}.main").SPEC)


# Identity's export asks the other services over HTTP; nothing may answer in these tests
# (port 9 is closed), whatever else runs on this machine.
_HERMETIC: dict[str, dict[str, Any]] = {
    "identity": {
        "export_sources": {
            name: f"http://127.0.0.1:9/{name}/me/export"
            for name in ("ingest", "dedup", "analytics")
        }
    }
}


def settings_for(service: str, database_url: str, redis_url: str, **extra: Any) -> ServiceSettings:
    cls = getattr(importlib.import_module(f"aurora_{service}.config"), _SETTINGS[service])
    values = {**_HERMETIC.get(service, {}), **extra}
    return cast(ServiceSettings, cls(database_url=database_url, redis_url=redis_url, **values))


def make_app(service: str, settings: ServiceSettings, issuer: TestIssuer) -> FastAPI:
    """Identity trusts its own key table; the others trust the test issuer."""
    factory = importlib.import_module(f"aurora_{service}.app").create_app
    key_source = None if service == "identity" else issuer.key_source()
    return cast(FastAPI, factory(settings, key_source))


# -- routes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One (method, path template) of an app, with its route's dependency tree."""

    method: str
    path: str
    dependant: Dependant | None  # None for plain starlette routes (docs, openapi)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def url(self) -> str:
        """The path with every parameter replaced by a fresh uuid (nobody's resource)."""
        return _PARAM.sub(lambda _: str(uuid.uuid4()), self.path)


def flat_routes(app: FastAPI) -> Iterator[Any]:
    """FastAPI >= 0.16x keeps included routers nested in `app.routes`; flatten them."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI flattens on include_router
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def endpoints(app: FastAPI) -> list[Endpoint]:
    found: list[Endpoint] = []
    for route in flat_routes(app):
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None)
        if not path or not methods:
            continue  # mounts, websockets: none exist; the inventory test says so
        is_api = isinstance(getattr(route, "original_route", route), APIRoute)
        dependant = getattr(route, "dependant", None) if is_api else None
        for method in sorted(methods):
            if method == "HEAD" and "GET" in methods:
                continue  # starlette's implicit HEAD of a GET
            found.append(Endpoint(method, path, dependant))
    return found


def needs(dependant: Dependant | None, target: Callable[..., Any]) -> bool:
    """Whether `target` is anywhere in the dependency tree (router-level deps included)."""
    if dependant is None:
        return False
    stack = [dependant]
    while stack:
        node = stack.pop()
        if node.call is target:
            return True
        stack.extend(node.dependencies)
    return False


def is_protected(endpoint: Endpoint) -> bool:
    return needs(endpoint.dependant, current_principal)


def protected(app: FastAPI) -> list[Endpoint]:
    return [e for e in endpoints(app) if is_protected(e)]


# -- tokens ------------------------------------------------------------------------------


@dataclass
class Trusted:
    """What a service trusts: one signing key, the claims it expects, and how to sign them."""

    kid: str
    private_key: Ed25519PrivateKey
    base_claims: dict[str, Any]

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """The valid claims with fresh times; an override of None removes the claim."""
        now = int(time.time())
        claims = {**self.base_claims, "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        headers = {"kid": self.kid, **header}
        headers = {k: v for k, v in headers.items() if v is not None}
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers=headers)

    def token(self, **overrides: Any) -> str:
        return self.sign(self.claims(**overrides))


def trusted_from_issuer(issuer: TestIssuer) -> Trusted:
    claims = jwt.decode(issuer.mint(uuid.uuid4()), options={"verify_signature": False})
    return Trusted(issuer.kid, issuer.private_key, claims)


async def register_and_login(client: httpx.AsyncClient, email: str | None = None) -> str:
    email = email or f"sec-{uuid.uuid4().hex[:12]}@example.com"
    registered = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code in (201, 202), registered.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


async def trusted_from_identity(client: httpx.AsyncClient, database_url: str) -> Trusted:
    """A real login's claims, and the private key of the kid that signed them.

    The key comes from identity's own table: forged variants (no exp, wrong aud,
    ...) must carry a signature identity would otherwise accept, or the test
    would only prove that bad signatures fail.
    """
    token = await register_and_login(client)
    kid = jwt.get_unverified_header(token)["kid"]
    published = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert kid in {k["kid"] for k in published}, "the login token's kid is not in the JWKS"
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        pem = await conn.fetchval(
            "SELECT private_pem FROM identity.signing_keys WHERE kid = $1", kid
        )
    finally:
        await conn.close()
    assert pem is not None, f"signing key {kid} not found in identity.signing_keys"
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    jwk = next(k for k in published if k["kid"] == kid)
    assert OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)["x"] == jwk["x"]
    claims = jwt.decode(token, options={"verify_signature": False})
    return Trusted(kid, key, claims)


@dataclass
class Target:
    """One running service app, the client in front of it and the key it trusts."""

    service: str
    app: FastAPI
    client: httpx.AsyncClient
    trusted: Trusted

    async def fresh_headers(self) -> dict[str, str]:
        """A valid token of a brand-new user (a logout-like route cannot spoil the next)."""
        if self.service == "identity":
            token = await register_and_login(self.client)
        else:
            token = self.trusted.token(sub=str(uuid.uuid4()))
        return {"Authorization": f"Bearer {token}"}


def problem_401(response: httpx.Response) -> str | None:
    """None when the answer is the 401 problem every token failure must produce."""
    ctype = response.headers.get("content-type", "")
    if response.status_code != 401:
        return f"status {response.status_code}: {response.text[:200]}"
    if not ctype.startswith("application/problem+json"):
        return f"content-type {ctype!r}"
    body = response.json()
    if body.get("status") != 401:
        return f"problem body status {body.get('status')!r}"
    if not response.headers.get("www-authenticate", "").lower().startswith("bearer"):
        return "no WWW-Authenticate: Bearer header"
    return None
