"""The JWKS and the tokens it verifies, as every other service will see them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
import jwt
import pytest
from jwt import PyJWK

from aurora_shared.auth import StaticKeys, TokenVerifier

Login = Callable[[str], Awaitable[str]]


async def test_jwks_publishes_only_public_ed25519_keys(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = response.json()["keys"]
    assert len(keys) == 2  # the signing key and the next one, published ahead
    assert len({k["kid"] for k in keys}) == 2
    for key in keys:
        assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == (
            "OKP",
            "Ed25519",
            "EdDSA",
            "sig",
        )
        assert "d" not in key
        assert PyJWK(key).key is not None


async def test_token_header_and_claims(client: httpx.AsyncClient, signup: Login) -> None:
    before = int(time.time())
    token = await signup("ivy@example.com")
    me = (await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})).json()
    jwks = (await client.get("/.well-known/jwks.json")).json()

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    [signing] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    claims = jwt.decode(
        token,
        PyJWK(signing).key,
        algorithms=["EdDSA"],
        audience="aurora",
        issuer="aurora-identity",
    )
    assert set(claims) == {"sub", "role", "iss", "aud", "iat", "exp", "jti", "sid"}
    assert uuid.UUID(claims["sid"])  # the session: the refresh-token family
    assert claims["sub"] == me["id"]
    assert claims["role"] == "athlete"
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == 900
    assert len(claims["jti"]) >= 16


async def test_two_tokens_never_share_a_jti(client: httpx.AsyncClient, signup: Login) -> None:
    first = await signup("jack@example.com")
    second = await client.post(
        "/auth/login",
        json={"email": "jack@example.com", "password": "correct horse battery staple"},
    )
    a = jwt.decode(first, options={"verify_signature": False})
    b = jwt.decode(second.json()["access_token"], options={"verify_signature": False})
    assert a["jti"] != b["jti"]


async def test_other_services_verify_identity_tokens_with_static_keys(
    client: httpx.AsyncClient, signup: Login
) -> None:
    token = await signup("kim@example.com")
    jwks = (await client.get("/.well-known/jwks.json")).json()
    verifier = TokenVerifier(StaticKeys(jwks), issuer="aurora-identity", audience="aurora")
    principal = await verifier.verify(token)
    me = (await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert principal.user_id == uuid.UUID(me["id"])
    assert principal.role == "athlete"

    wrong_audience = TokenVerifier(StaticKeys(jwks), issuer="aurora-identity", audience="other")
    with pytest.raises(Exception, match="invalid token"):
        await wrong_audience.verify(token)
