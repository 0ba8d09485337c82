"""Local verification of identity's access tokens, in every service.

PyJWT with the algorithm pinned to EdDSA and every registered claim required:
an `alg=none` token, an HS256 token "signed" with the public key, a token
without `exp` or `aud`, or one from another issuer never verifies (checklist
item 23). Keys come from identity's JWKS and are cached; an unknown `kid`
triggers at most one refetch per cooldown, so forged kids cannot hammer identity.
`current_principal` then asks the revocation cache (aurora_shared.revocation).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt
from fastapi import Request
from jwt import PyJWK
from redis.asyncio import Redis

from aurora_shared.errors import ProblemError
from aurora_shared.revocation import check_not_revoked

ALGORITHMS = ["EdDSA"]
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "iss"]
MAX_TOKEN_BYTES = 8 * 1024


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    role: str
    claims: dict[str, Any]


class KeySource(Protocol):
    async def key_for(self, kid: str) -> PyJWK | None: ...


class StaticKeys:
    """Keys known up front (tests, or a pinned deployment)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = {k["kid"]: PyJWK(k) for k in jwks.get("keys", [])}

    async def key_for(self, kid: str) -> PyJWK | None:
        return self._keys.get(kid)


class JwksClient:
    def __init__(self, url: str, *, cooldown_s: float = 30.0, timeout_s: float = 5.0) -> None:
        self.url = url
        self.cooldown_s = cooldown_s
        self.timeout_s = timeout_s
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> PyJWK | None:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= self.cooldown_s:
                await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
            response = await client.get(self.url)
            response.raise_for_status()
            document = response.json()
        keys: dict[str, PyJWK] = {}
        for k in document.get("keys", []):
            if k.get("kid") and k.get("kty") == "OKP" and k.get("crv") == "Ed25519":
                keys[k["kid"]] = PyJWK(k)
        self._keys = keys


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": "Bearer"})


class TokenVerifier:
    def __init__(self, keys: KeySource, *, issuer: str, audience: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience

    async def verify(self, token: str) -> Principal:
        if len(token.encode()) > MAX_TOKEN_BYTES:
            raise unauthorized("token too large")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthorized("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise unauthorized("token algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise unauthorized("token has no key id")
        try:
            key = await self.keys.key_for(kid)
        except (httpx.HTTPError, ValueError) as exc:
            raise ProblemError(503, "token keys unavailable") from exc
        if key is None:
            raise unauthorized("unknown signing key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
            )
            user_id = uuid.UUID(str(claims["sub"]))
        except (jwt.PyJWTError, ValueError) as exc:
            raise unauthorized("invalid token") from exc
        return Principal(user_id=user_id, role=str(claims.get("role", "athlete")), claims=claims)


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("missing bearer token")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency; the verifier is put on app.state by the service factory.

    A valid signature is not enough: the token may have been revoked (logout, deleted
    or deactivated user), which the Redis revocation cache says (or 503 if it cannot).
    """
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(bearer_token(request))
    redis: Redis = request.app.state.runtime.redis
    await check_not_revoked(redis, principal.user_id, principal.claims)
    return principal
