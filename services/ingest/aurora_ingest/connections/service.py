"""Connecting, listing, syncing and disconnecting provider accounts. Only flushes.

What provider packages use lives here too: `find_by_provider_user`,
`get_for_user`, `access_token`, `revoke_local`, `mark_synced` and
`ConnectionUnusable`.

The callback answers JSON: the browser lands on it straight from the provider,
with no bearer token, so the signed state names the user; the frontend (which
sent the browser to the provider) reads the answer and moves the user on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.accounts.models import MIRROR
from aurora_ingest.connections import clients, oauth, repository
from aurora_ingest.connections.errors import ConnectionUnusable
from aurora_ingest.connections.models import Connection
from aurora_ingest.connections.repository import find_by_provider_user, get_for_user
from aurora_ingest.connections.tokens import access_token, reencrypt_all
from aurora_ingest.jobs import service as jobs
from aurora_ingest.providers.http import ProviderAuthError, ProviderError, ProviderUnavailable
from aurora_shared.errors import NotFoundError, ProblemError

if TYPE_CHECKING:
    from aurora_ingest.providers.kit import ProviderKit

log = logging.getLogger("aurora.ingest.connections")

NONCE_KEY = "aurora:ingest:oauth-nonce"
BACKFILL = "backfill"
PROBLEM_BASE = "https://aurora.example/problems/connections"


def _refused(detail: str, kind: str, status: int = 400) -> ProblemError:
    return ProblemError(status, detail, type_=f"{PROBLEM_BASE}/{kind}")


def _state_secret(kit: ProviderKit) -> bytes:
    secret = kit.settings.state_secret.get_secret_value().encode()
    if not secret:
        raise oauth.ProviderNotConfiguredError("the OAuth state secret is not configured")
    return secret


def authorize(kit: ProviderKit, *, user_id: uuid.UUID, provider: str) -> str:
    """The provider URL to send the user's browser to, with a fresh signed state."""
    spec = oauth.oauth_spec(kit.settings, provider)
    state = oauth.sign_state(
        _state_secret(kit),
        user_id=user_id,
        provider=provider,
        now=kit.clock(),
        ttl_s=kit.settings.oauth_state_ttl_s,
    )
    return oauth.authorize_url(
        spec, redirect_to=oauth.redirect_uri(kit.settings, provider), state=state
    )


async def _spend_nonce(kit: ProviderKit, claims: oauth.StateClaims) -> bool:
    """True the first time only: SET NX lives as long as the state could still verify."""
    ttl = max(int((claims.expires_at - kit.clock()).total_seconds()) + 1, 1)
    return bool(await kit.redis.set(f"{NONCE_KEY}:{claims.nonce}", "1", nx=True, ex=ttl))


async def complete_connect(
    kit: ProviderKit,
    session: AsyncSession,
    *,
    provider: str,
    code: str | None,
    state: str | None,
    granted_scope: str | None,
) -> Connection:
    """The callback: verify the state, exchange the code, store the grant, queue a backfill.

    Every refusal happens before anything is stored. The nonce is spent before
    the code is exchanged, so a replayed callback never reaches the provider.
    """
    spec = oauth.oauth_spec(kit.settings, provider)
    if not code or not state:
        raise _refused("the callback needs both code and state", "invalid-callback")
    try:
        claims = oauth.verify_state(_state_secret(kit), state, provider=provider, now=kit.clock())
    except oauth.InvalidStateError as exc:
        raise _refused(
            f"invalid OAuth state: {exc}; start the connection again", "invalid-state"
        ) from exc
    if await MIRROR.is_blocked(session, claims.user_id):
        raise _refused(
            "the account that started this connection is no longer active", "inactive-user"
        )
    if not await _spend_nonce(kit, claims):
        raise _refused(
            "this OAuth state was already used; start the connection again", "state-reused"
        )
    if missing := oauth.missing_scopes(spec, granted_scope):
        raise _refused(f"required access was not granted: {', '.join(missing)}", "scope-missing")
    grant = await _exchange(kit, spec, code)
    if missing := oauth.missing_scopes(spec, grant.scopes):
        raise _refused(f"required access was not granted: {', '.join(missing)}", "scope-missing")
    if provider == "whoop":
        provider_user_id = await clients.whoop_user_id(kit, access_token=grant.access_token)
    elif grant.provider_user_id is not None:
        provider_user_id = grant.provider_user_id
    else:
        raise ProviderUnavailable("Strava's token answer names no athlete")
    connection = await _store(
        kit,
        session,
        user_id=claims.user_id,
        provider=provider,
        provider_user_id=provider_user_id,
        grant=grant,
        scopes=grant.scopes
        or " ".join(oauth.split_scopes(granted_scope or ""))
        or " ".join(spec.scopes),
    )
    await jobs.enqueue(
        session,
        provider=provider,
        kind=BACKFILL,
        key=str(connection.id),
        user_id=connection.user_id,
        connection_id=connection.id,
    )
    log.info(
        "provider connected", extra={"provider": provider, "connection_id": str(connection.id)}
    )
    return connection


async def _exchange(kit: ProviderKit, spec: oauth.OAuthSpec, code: str) -> oauth.TokenGrant:
    redirect_to = oauth.redirect_uri(kit.settings, spec.provider)
    try:
        return await clients.exchange_code(kit, spec, code=code, redirect_to=redirect_to)
    except ProviderAuthError as exc:
        log.error("provider refused our client credentials", extra={"provider": spec.provider})
        raise ProblemError(502, f"{spec.provider} refused this application's credentials") from exc
    except ProviderError as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
            # Strava answers 400 for a spent or unknown code, Whoop 400 invalid_grant.
            raise _refused(
                "the authorization code is invalid, expired or already used;"
                " start the connection again",
                "code-rejected",
            ) from exc
        raise


async def _store(
    kit: ProviderKit,
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    provider: str,
    provider_user_id: str,
    grant: oauth.TokenGrant,
    scopes: str,
) -> Connection:
    """One row per (user, provider): a reconnect updates it, reviving a degraded or revoked one."""
    holder = await find_by_provider_user(session, provider, provider_user_id)
    if holder is not None and holder.user_id != user_id:
        raise _refused(
            f"this {provider} account is already connected to another Aurora account",
            "account-taken",
            409,
        )
    now = kit.clock()
    connection = await repository.get_any_for_user(session, user_id, provider, for_update=True)
    if connection is None:
        connection = Connection(id=uuid.uuid4(), user_id=user_id, provider=provider, created_at=now)
        session.add(connection)
    if connection.status == "revoked" or connection.provider_user_id != provider_user_id:
        connection.connected_at = now
    connection.provider_user_id = provider_user_id
    connection.scopes = scopes
    connection.access_token_enc = kit.cipher.encrypt(grant.access_token)
    connection.refresh_token_enc = (
        kit.cipher.encrypt(grant.refresh_token) if grant.refresh_token is not None else None
    )
    connection.expires_at = grant.expires_at
    connection.status = "active"
    connection.status_reason = None
    connection.revoked_at = None
    connection.updated_at = now
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent connect of the same provider account won
        raise _refused(
            f"this {provider} account is already connected to another Aurora account",
            "account-taken",
            409,
        ) from exc
    return connection


async def revoke_local(
    session: AsyncSession, connection: Connection, *, reason: str, now: datetime | None = None
) -> None:
    """Stop everything on our side: tokens wiped, status revoked, pending jobs cancelled."""
    now = now or datetime.now(UTC)
    connection.status = "revoked"
    connection.status_reason = reason
    connection.revoked_at = now
    connection.access_token_enc = None
    connection.refresh_token_enc = None
    connection.expires_at = None
    connection.updated_at = now
    await session.flush()
    cancelled = await jobs.cancel_for_connection(session, connection.id)
    log.info(
        "connection revoked",
        extra={"connection_id": str(connection.id), "reason": reason, "jobs_cancelled": cancelled},
    )


async def disconnect(
    kit: ProviderKit, session: AsyncSession, *, user_id: uuid.UUID, provider: str
) -> None:
    """Revoke at the provider, best effort, then locally, always.

    The user asked to stop: a provider that is down or already forgot the grant
    must not keep us syncing, so its failure is logged and the local revocation
    goes ahead. Our own failure to decrypt the token is not swallowed
    (TokenDecryptError propagates): an operator must hear about a lost key.
    """
    connection = await get_for_user(session, user_id, provider)
    if connection is None:
        raise NotFoundError("connection")
    token: str | None = None
    try:
        token = await access_token(kit, connection.id)
    except ConnectionUnusable:
        token = None  # degraded: the provider already refused our refresh token
    except ProviderError as exc:
        log.warning(
            "no token to revoke at provider", extra={"provider": provider, "reason": exc.reason}
        )
    if token is not None:
        try:
            await clients.revoke(kit, provider, access_token=token)
        except ProviderError as exc:
            log.warning(
                "provider revocation failed; revoking locally anyway",
                extra={"provider": provider, "reason": exc.reason},
            )
    await revoke_local(session, connection, reason="disconnected by the user", now=kit.clock())


async def list_connections(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Connection]:
    return await repository.list_for_user(session, user_id)


async def request_sync(session: AsyncSession, *, user_id: uuid.UUID, provider: str) -> Connection:
    connection = await get_for_user(session, user_id, provider)
    if connection is None:
        raise NotFoundError("connection")
    if connection.status != "active":
        raise _refused(
            f"the {provider} connection is {connection.status}; reconnect first",
            "connection-degraded",
            409,
        )
    await jobs.enqueue(
        session,
        provider=provider,
        kind=BACKFILL,
        key=str(connection.id),
        user_id=user_id,
        connection_id=connection.id,
    )
    return connection


async def mark_synced(session: AsyncSession, connection_id: uuid.UUID, *, at: datetime) -> None:
    """For provider jobs: a sync of this connection completed at `at`."""
    await session.execute(
        update(Connection).where(Connection.id == connection_id).values(last_synced_at=at)
    )


__all__ = [
    "ConnectionUnusable",
    "access_token",
    "authorize",
    "complete_connect",
    "disconnect",
    "find_by_provider_user",
    "get_for_user",
    "list_connections",
    "mark_synced",
    "reencrypt_all",
    "request_sync",
    "revoke_local",
]
