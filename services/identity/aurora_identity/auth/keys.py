"""Identity's Ed25519 signing keys: creation, the signer, and its own KeySource.

Identity verifies the tokens it issued by reading its own `signing_keys` table
(cached in memory), never by calling its own JWKS over HTTP: a service that
needs itself to be up to start would deadlock behind a gateway.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt import PyJWK
from jwt.algorithms import OKPAlgorithm
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_identity.auth import repository
from aurora_identity.auth.models import SigningKey


@dataclass(frozen=True)
class NewKey:
    kid: str
    private_pem: str
    public_jwk: dict[str, Any]


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    private_key: Ed25519PrivateKey


def jwk_thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: a kid derived from the key, so it can never name two keys."""
    members = {name: public_jwk[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def generate_key() -> NewKey:
    private_key = Ed25519PrivateKey.generate()
    public = OKPAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    kid = jwk_thumbprint(public)
    public.update({"kid": kid, "alg": "EdDSA", "use": "sig"})
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return NewKey(kid=kid, private_pem=pem, public_jwk=public)


def public_jwk(key: SigningKey) -> dict[str, Any]:
    """Only the public members, whatever else the stored document holds."""
    allowed = ("kty", "crv", "x", "kid", "alg", "use")
    return {name: key.public_jwk[name] for name in allowed if name in key.public_jwk}


# How long a KeyRing trusts its cached keys; a replica may keep signing with a key this
# long after another replica retired it.
KEY_CACHE_MAX_AGE_S = 300.0
RETENTION_MARGIN_S = 60


def key_retention_s(token_ttl_s: int) -> float:
    """How long a retired key stays published: until every token it signed has expired,
    including those signed by replicas that had not yet noticed the rotation."""
    return token_ttl_s + KEY_CACHE_MAX_AGE_S + RETENTION_MARGIN_S


def published_since(token_ttl_s: int) -> datetime:
    """Keys retired before this instant have no unexpired token left: unpublished."""
    return datetime.now(UTC) - timedelta(seconds=key_retention_s(token_ttl_s))


@dataclass(frozen=True)
class Rotation:
    kid: str  # the new signing key
    next_kid: str  # published now, signing from the following rotation on
    emergency: bool


async def _add(session: AsyncSession, activated_at: datetime | None) -> str:
    new = generate_key()
    await repository.add_key(
        session,
        kid=new.kid,
        private_pem=new.private_pem,
        public_jwk=new.public_jwk,
        activated_at=activated_at,
    )
    return new.kid


async def _ensure_keys(session: AsyncSession, now: datetime) -> Rotation:
    """An active and a next key, whichever is missing; call under the keys lock."""
    active = await repository.active_key(session)
    if active is None:
        pending = await repository.next_key(session)
        if pending is not None:
            await repository.activate(session, pending.kid, now)
            kid = pending.kid
        else:
            kid = await _add(session, now)
    else:
        kid = active.kid
    pending = await repository.next_key(session)
    next_kid = pending.kid if pending is not None else await _add(session, None)
    return Rotation(kid=kid, next_kid=next_kid, emergency=False)


async def rotate_key(session: AsyncSession, *, emergency: bool = False) -> Rotation:
    """Promotes the pre-published next key to signing key and publishes a new next key.

    The retired key stays in the JWKS (and keeps verifying) for `key_retention_s`.
    An emergency rotation (a key leaked) instead deletes every key, retired and next
    ones included since they sat in the same table, and starts afresh: every access
    token dies at once here and, as their cached key sets expire, in every service;
    clients get new ones with their refresh tokens, which no signing key protects.
    """
    await repository.lock_signing_keys(session)
    now = datetime.now(UTC)
    if emergency:
        await repository.delete_all_keys(session)
    else:
        await repository.retire_active_keys(session, now)
    rotation = await _ensure_keys(session, now)
    return Rotation(kid=rotation.kid, next_kid=rotation.next_kid, emergency=emergency)


def load_private_key(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("signing key is not Ed25519")
    return key


class KeyRing:
    """The signer's active key and the verifier's public keys, cached per process.

    An unknown kid refreshes from the table at most once per cooldown (forged
    kids cannot hammer the database); the cache also expires after `max_age_s`
    so a key retired by another replica stops verifying here too.
    """

    def __init__(
        self,
        *,
        token_ttl_s: int,
        refresh_cooldown_s: float = 5.0,
        max_age_s: float = KEY_CACHE_MAX_AGE_S,
    ) -> None:
        self.token_ttl_s = token_ttl_s
        self.refresh_cooldown_s = refresh_cooldown_s
        self.max_age_s = max_age_s
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._public: dict[str, PyJWK] = {}
        self._active: ActiveKey | None = None
        self._fetched_at = float("-inf")
        # Only reloads caused by unknown kids are throttled; startup's load is not one.
        self._miss_reload_at = float("-inf")
        self._lock = asyncio.Lock()

    def bind(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    def _sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            raise RuntimeError("key ring used before the app started")
        return self._sessions

    async def ensure_active_key(self) -> None:
        """Create the signing key and the next key if missing; replicas starting together
        create one of each."""
        async with self._sessionmaker()() as session, session.begin():
            await repository.lock_signing_keys(session)
            await _ensure_keys(session, datetime.now(UTC))
        async with self._lock:
            await self._refresh()

    def invalidate(self) -> None:
        """Reload from the table on next use (this replica just rotated the keys)."""
        self._fetched_at = float("-inf")

    async def signer(self) -> ActiveKey:
        if self._active is None or self._stale():
            async with self._lock:
                if self._active is None or self._stale():
                    await self._refresh()
        if self._active is None:
            raise RuntimeError("no active signing key")
        return self._active

    async def key_for(self, kid: str) -> PyJWK | None:
        if kid in self._public and not self._stale():
            return self._public[kid]
        async with self._lock:
            if self._stale():
                await self._refresh()
            elif kid not in self._public and self._miss_reload_due():
                self._miss_reload_at = time.monotonic()
                await self._refresh()
        return self._public.get(kid)

    def _miss_reload_due(self) -> bool:
        return time.monotonic() - self._miss_reload_at >= self.refresh_cooldown_s

    def _stale(self) -> bool:
        return time.monotonic() - self._fetched_at >= self.max_age_s

    async def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        retired_after = published_since(self.token_ttl_s)
        async with self._sessionmaker()() as session:
            active = await repository.active_key(session)
            published = await repository.published_keys(session, retired_after)
        self._public = {k.kid: PyJWK(public_jwk(k)) for k in published}
        if active is not None:
            self._active = ActiveKey(active.kid, load_private_key(active.private_pem))
