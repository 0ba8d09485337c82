"""Checklist item 23 against every protected route of every service.

Each forged token below is sent to every route whose dependency tree includes
`current_principal` (found by walking `app.routes`), with path parameters set to
fresh uuids and no body: the answer must be a 401 problem with
`WWW-Authenticate: Bearer`, never 404, 422 or 500. The forgeries that need a
signature are signed with the key the service really trusts, so each one fails
for its own reason, and a control proves the unforged token is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from redis.asyncio import Redis

from aurora_shared.revocation import READY_KEY

from .stack import SERVICES, Target, Trusted, is_protected, problem_401, protected

Forge = Callable[[Trusted], dict[str, str]]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(document: dict[str, Any]) -> str:
    return _b64(json.dumps(document, separators=(",", ":")).encode())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _unsigned(trusted: Trusted, alg: str) -> dict[str, str]:
    header = {"alg": alg, "typ": "JWT", "kid": trusted.kid}
    return _bearer(f"{_segment(header)}.{_segment(trusted.claims())}.")


def _hs256(trusted: Trusted, secret: bytes) -> dict[str, str]:
    """Hand-made: PyJWT itself refuses to HMAC with something that looks like a key."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': trusted.kid})}."
    signing_input += _segment(trusted.claims())
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return _bearer(f"{signing_input}.{_b64(mac)}")


def _public(trusted: Trusted, encoding: serialization.Encoding) -> bytes:
    if encoding is serialization.Encoding.Raw:
        fmt = serialization.PublicFormat.Raw
    else:
        fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return trusted.public_key.public_bytes(encoding, fmt)


def _signed(**overrides: Any) -> Forge:
    return lambda t: _bearer(t.token(**overrides))


def _timed(overrides: Callable[[int], dict[str, int]]) -> Forge:
    """Times are read when the forgery is made, not when the module is imported."""
    return lambda t: _bearer(t.token(**overrides(int(time.time()))))


def _other_key(kid: str | None) -> Forge:
    def forge(trusted: Trusted) -> dict[str, str]:
        stranger = Trusted(kid or uuid.uuid4().hex, Ed25519PrivateKey.generate(), {})
        return _bearer(stranger.sign(trusted.claims(), kid=kid or stranger.kid))

    return forge


def _same_kid_other_key(trusted: Trusted) -> dict[str, str]:
    return _other_key(trusted.kid)(trusted)


def _tampered(trusted: Trusted) -> dict[str, str]:
    """A genuine token whose payload was edited to claim admin; the signature is original."""
    header, _, signature = trusted.token().split(".")
    return _bearer(f"{header}.{_segment(trusted.claims(role='admin'))}.{signature}")


def _no_kid(trusted: Trusted) -> dict[str, str]:
    return _bearer(jwt.encode(trusted.claims(), trusted.private_key, algorithm="EdDSA"))


def _oversized(trusted: Trusted) -> dict[str, str]:
    return _bearer(trusted.token(padding="x" * 8192))


HOUR = 3600

ATTACKS: dict[str, Forge] = {
    "no-authorization-header": lambda _: {},
    "basic-scheme": lambda _: {"Authorization": "Basic " + _b64(b"admin:admin")},
    "empty-bearer": lambda _: {"Authorization": "Bearer "},
    "not-a-jwt": lambda _: _bearer("not.a.jwt"),
    "alg-none": lambda t: _unsigned(t, "none"),
    "alg-None": lambda t: _unsigned(t, "None"),
    "hs256-public-key-der": lambda t: _hs256(t, _public(t, serialization.Encoding.DER)),
    "hs256-public-key-pem": lambda t: _hs256(t, _public(t, serialization.Encoding.PEM)),
    "hs256-public-key-raw": lambda t: _hs256(t, _public(t, serialization.Encoding.Raw)),
    "hs256-jwk-x": lambda t: _hs256(t, _b64(_public(t, serialization.Encoding.Raw)).encode()),
    "no-exp": _signed(exp=None),
    "expired": _timed(lambda now: {"iat": now - 2 * HOUR, "exp": now - HOUR}),
    "future-nbf": _timed(lambda now: {"nbf": now + HOUR}),
    "future-iat": _timed(lambda now: {"iat": now + HOUR, "exp": now + 2 * HOUR}),
    "wrong-aud": _signed(aud="somebody-else"),
    "missing-aud": _signed(aud=None),
    "wrong-iss": _signed(iss="https://evil.example"),
    "missing-iss": _signed(iss=None),
    "missing-sub": _signed(sub=None),
    "sub-not-a-uuid": _signed(sub="admin"),
    "missing-iat": _signed(iat=None),
    "oversized-8kb": _oversized,
    "unknown-key": _other_key(None),
    "known-kid-other-key": _same_kid_other_key,
    "kid-injection": _other_key("' OR '1'='1"),
    "no-kid": _no_kid,
    "tampered-payload": _tampered,
}


@pytest.mark.parametrize("service", SERVICES)
async def test_every_service_has_protected_routes(targets: dict[str, Target], service: str) -> None:
    """Otherwise the attacks below would pass vacuously."""
    assert protected(targets[service].app), f"{service} has no route needing a principal"


@pytest.mark.parametrize("service", SERVICES)
async def test_unforged_token_is_accepted_everywhere(
    targets: dict[str, Target], service: str, ready: Redis
) -> None:
    """The control: the same claims and key, unforged, get past authentication."""
    target = targets[service]
    refused = []
    for endpoint in protected(target.app):
        headers = await target.fresh_headers()
        response = await target.client.request(endpoint.method, endpoint.url(), headers=headers)
        if response.status_code == 401 or response.status_code >= 500:
            refused.append(f"{endpoint.name}: {response.status_code} {response.text[:200]}")
    # The re-signed claims (not only a real login's token) must pass too, or the
    # forgeries would be failing for a reason other than their own.
    resigned = {"Authorization": f"Bearer {target.trusted.token()}"}
    for endpoint in protected(target.app):
        if endpoint.method != "GET":
            continue
        response = await target.client.get(endpoint.url(), headers=resigned)
        if response.status_code == 401 or response.status_code >= 500:
            refused.append(f"re-signed {endpoint.name}: {response.status_code} {response.text}")
    assert not refused, "\n".join(refused)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("service", SERVICES)
async def test_forged_token_is_401_on_every_protected_route(
    targets: dict[str, Target], service: str, attack: str, ready: Redis
) -> None:
    target = targets[service]
    headers = ATTACKS[attack](target.trusted)
    wrong = []
    for endpoint in protected(target.app):
        response = await target.client.request(endpoint.method, endpoint.url(), headers=headers)
        problem = problem_401(response)
        if problem:
            wrong.append(f"{endpoint.name}: {problem}")
    assert not wrong, f"{attack} on {service}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("service", SERVICES)
async def test_bad_parameters_do_not_outrank_authentication(
    targets: dict[str, Target], service: str, ready: Redis
) -> None:
    """Without a token, junk path and query values and a wrong body still answer 401."""
    target = targets[service]
    wrong = []
    for endpoint in protected(target.app):
        url = endpoint.path.replace("{", "").replace("}", "") + "?limit=-1&before=yesterday"
        for body, ctype in ((b'{"unexpected": true}', "application/json"), (b"x", "text/plain")):
            headers = {"content-type": ctype}
            response = await target.client.request(
                endpoint.method, url, content=body, headers=headers
            )
            problem = problem_401(response)
            if problem:
                wrong.append(f"{endpoint.name} {body!r}: {problem}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("service", SERVICES)
async def test_malformed_json_body_does_not_outrank_authentication(
    targets: dict[str, Target], service: str, ready: Redis
) -> None:
    """FastAPI parses a JSON body before it resolves any dependency (router-level ones
    included), so a route with a body reveals its shape to anonymous callers as a 422.
    The shared app factory must authenticate first."""
    target = targets[service]
    wrong = []
    for endpoint in protected(target.app):
        if endpoint.method in ("GET", "DELETE"):
            continue
        response = await target.client.request(
            endpoint.method,
            endpoint.url(),
            content=b'{"not json',
            headers={"content-type": "application/json"},
        )
        problem = problem_401(response)
        if problem:
            wrong.append(f"{endpoint.name}: {problem}")
    assert not wrong, "\n".join(wrong)


def test_protected_routes_are_found_through_nested_dependencies() -> None:
    """The walker follows sub-dependencies: a role check built on current_principal counts."""
    from fastapi import APIRouter, Depends, FastAPI

    from aurora_shared.auth import Principal, current_principal

    from .stack import endpoints

    async def admin_only(who: Principal = Depends(current_principal)) -> Principal:
        return who

    router = APIRouter(prefix="/x")

    @router.get("/direct")
    async def direct(who: Principal = Depends(current_principal)) -> None: ...

    @router.get("/nested")
    async def nested(who: Principal = Depends(admin_only)) -> None: ...

    @router.get("/open")
    async def open_() -> None: ...

    guarded = APIRouter(prefix="/g", dependencies=[Depends(current_principal)])

    @guarded.get("/router-level")
    async def router_level() -> None: ...

    app = FastAPI()
    app.include_router(router)
    app.include_router(guarded)
    found = {e.path: is_protected(e) for e in endpoints(app)}
    assert found["/x/direct"] and found["/x/nested"] and found["/g/router-level"]
    assert not found["/x/open"]


@pytest.mark.parametrize("service", SERVICES)
async def test_forgeries_are_401_even_when_the_revocation_cache_is_not_ready(
    targets: dict[str, Target], service: str, redis: Redis
) -> None:
    """The signature is checked before the revocation cache is asked: with the cache
    not ready, a forged token is still a plain 401 (a valid one gets 503, or passes if
    identity reseeded the cache meanwhile; never 401)."""
    await redis.delete(READY_KEY)
    target = targets[service]
    endpoint = next(e for e in protected(target.app) if e.method == "GET")
    for attack in ("alg-none", "unknown-key", "expired", "tampered-payload"):
        headers = ATTACKS[attack](target.trusted)
        response = await target.client.get(endpoint.url(), headers=headers)
        assert problem_401(response) is None, (attack, response.text)
    valid = await target.client.get(endpoint.url(), headers=await target.fresh_headers())
    assert valid.status_code != 401, valid.text
