"""Local verification of identity's access tokens, in every service.

PyJWT with the algorithm pinned to EdDSA and every registered claim required:
an `alg=none` token, an HS256 token "signed" with the public key, a token
without `exp` or `aud`, or one from another issuer never verifies (checklist
item 23). Keys come from identity's JWKS and are cached for a bounded age, so a
key identity withdraws stops verifying everywhere; an unknown `kid` triggers at
most one refetch per cooldown, so forged kids cannot hammer identity.
`current_principal` then asks the revocation cache (aurora_shared.revocation).
"""

from __future__ import annotations

import asyncio
import logging
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


# How long a service trusts identity's key set before fetching it again: a key that
# identity stops publishing (emergency rotation) stops verifying everywhere within it.
JWKS_MAX_AGE_S = 300.0
# When identity cannot be reached at refresh time, the last key set keeps serving this
# much longer (refetched at most once per cooldown meanwhile); then 503.
JWKS_STALE_IF_ERROR_S = 300.0

log = logging.getLogger("aurora.auth")


class KeysUnavailableError(ValueError):
    """No key set recent enough to verify with (the verifier answers 503)."""


class JwksClient:
    """Identity's published keys, fetched over HTTP and cached.

    The whole set is replaced on every fetch, so keys identity no longer publishes
    are dropped. It is fetched when older than `max_age_s`, and when a token names a
    kid not in it (at most once per `cooldown_s`, so forged kids cannot hammer
    identity; identity publishes its next key ahead of use, so a rotation normally
    needs no such fetch). A failed refresh keeps the old set for `stale_if_error_s`
    beyond its age so a short identity outage is not an outage of every service.
    """

    def __init__(
        self,
        url: str,
        *,
        cooldown_s: float = 30.0,
        timeout_s: float = 5.0,
        max_age_s: float = JWKS_MAX_AGE_S,
        stale_if_error_s: float = JWKS_STALE_IF_ERROR_S,
    ) -> None:
        self.url = url
        self.cooldown_s = cooldown_s
        self.timeout_s = timeout_s
        self.max_age_s = max_age_s
        self.stale_if_error_s = stale_if_error_s
        self._keys: dict[str, PyJWK] = {}
        self._loaded_at = float("-inf")  # when the set in hand was fetched
        self._tried_at = float("-inf")  # the last attempt, successful or not
        self._lock = asyncio.Lock()

    def _age(self) -> float:
        return time.monotonic() - self._loaded_at

    def _cooled_down(self) -> bool:
        return time.monotonic() - self._tried_at >= self.cooldown_s

    async def key_for(self, kid: str) -> PyJWK | None:
        if kid in self._keys and self._age() < self.max_age_s:
            return self._keys[kid]
        async with self._lock:
            if self._age() >= self.max_age_s:
                await self._refresh_expired()
            elif kid not in self._keys and self._cooled_down():
                await self._refresh()
        return self._keys.get(kid)

    def _too_old(self) -> bool:
        return self._age() >= self.max_age_s + self.stale_if_error_s

    async def _refresh_expired(self) -> None:
        """Raises (503) only once the set is too old to trust even through an outage;
        while a failed attempt cools down, no request fetches again."""
        last_attempt_failed = self._tried_at > self._loaded_at
        if last_attempt_failed and not self._cooled_down():
            if self._too_old():
                self._keys = {}
                raise KeysUnavailableError("identity's keys could not be fetched")
            return
        try:
            await self._refresh()
        except (httpx.HTTPError, ValueError) as exc:
            if self._too_old():
                self._keys = {}
                raise
            log.warning("JWKS refresh failed; serving the cached keys: %s", type(exc).__name__)

    async def _refresh(self) -> None:
        self._tried_at = time.monotonic()
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
            response = await client.get(self.url)
            response.raise_for_status()
            document = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWK set")
        keys: dict[str, PyJWK] = {}
        for k in document["keys"]:
            if not isinstance(k, dict):
                continue
            if k.get("kid") and k.get("kty") == "OKP" and k.get("crv") == "Ed25519":
                try:
                    keys[k["kid"]] = PyJWK(k)
                except jwt.PyJWTError:
                    log.warning("unusable JWK skipped", extra={"kid": str(k["kid"])})
        self._keys = keys
        self._loaded_at = time.monotonic()


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
