"""Handing out a usable access token, refreshing it first when it is about to expire.

Each call runs in its own short transactions (kit.sessions), so a provider job
never holds a row of another transaction. A refresh takes a transaction-scoped
advisory lock on the connection and re-reads the row after taking it: of two
callers racing on an expiring token, the first refreshes and the second finds
the fresh token and makes no provider call. Providers may rotate the refresh
token on every refresh (Strava may, Whoop does); the new one is stored in the
same transaction as the new access token, so a crash can never leave the old,
already spent refresh token as the only one we hold.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from aurora_ingest.connections import clients, oauth, repository
from aurora_ingest.connections.errors import ConnectionUnusable
from aurora_ingest.connections.models import Connection
from aurora_ingest.providers.http import ProviderError, ProviderRateLimited, ProviderUnavailable

if TYPE_CHECKING:
    from aurora_ingest.providers.kit import ProviderKit

log = logging.getLogger("aurora.ingest.connections")

REFRESH_MARGIN_S = 300
REENCRYPT_BATCH = 100


def _usable(connection: Connection | None, connection_id: uuid.UUID) -> Connection:
    if connection is None:
        raise ConnectionUnusable(connection_id, "gone", "the connection no longer exists")
    if connection.status != "active":
        raise ConnectionUnusable(connection_id, connection.status, connection.status_reason)
    return connection


def _current(kit: ProviderKit, connection: Connection, now: datetime) -> str | None:
    """The stored access token when it still has more than the margin to live."""
    if connection.access_token_enc is None:
        return None
    if oauth.needs_refresh(connection.expires_at, now, margin_s=REFRESH_MARGIN_S):
        return None
    token = kit.cipher.decrypt(connection.access_token_enc)
    connection.last_used_at = now
    return token


def degrade(connection: Connection, reason: str, now: datetime) -> ConnectionUnusable:
    """Mark the connection degraded (the API then shows a reconnect hint); flush by caller."""
    connection.status = "degraded"
    connection.status_reason = reason
    connection.updated_at = now
    log.warning(
        "connection degraded",
        extra={
            "connection_id": str(connection.id),
            "provider": connection.provider,
            "reason": reason,
        },
    )
    return ConnectionUnusable(connection.id, "degraded", reason)


async def access_token(kit: ProviderKit, connection_id: uuid.UUID) -> str:
    """A token valid for at least five more minutes, or ConnectionUnusable.

    Raises ProviderUnavailable / ProviderRateLimited when the provider could not
    answer the refresh (the connection stays active: that is not the user's
    doing), and TokenDecryptError when our keys cannot open what we stored.
    """
    async with kit.sessions() as session, session.begin():
        connection = _usable(await session.get(Connection, connection_id), connection_id)
        token = _current(kit, connection, kit.clock())
        if token is not None:
            return token
    return await _refresh(kit, connection_id)


async def _refresh(kit: ProviderKit, connection_id: uuid.UUID) -> str:
    failure: ConnectionUnusable
    async with kit.sessions() as session, session.begin():
        await repository.lock_connection(session, connection_id)
        connection = _usable(await repository.fresh(session, connection_id), connection_id)
        now = kit.clock()
        token = _current(kit, connection, now)
        if token is not None:
            return token  # another caller refreshed while we waited for the lock
        if connection.refresh_token_enc is None:
            failure = degrade(connection, "no refresh token stored; reconnect", now)
        else:
            refresh_token = kit.cipher.decrypt(connection.refresh_token_enc)
            spec = oauth.oauth_spec(kit.settings, connection.provider)
            try:
                grant = await clients.refresh(kit, spec, refresh_token=refresh_token)
            except (ProviderUnavailable, ProviderRateLimited):
                raise
            except ProviderError as exc:
                failure = degrade(connection, f"token refresh refused: {exc.reason}", now)
            else:
                connection.access_token_enc = kit.cipher.encrypt(grant.access_token)
                if grant.refresh_token is not None:
                    connection.refresh_token_enc = kit.cipher.encrypt(grant.refresh_token)
                if grant.scopes:
                    connection.scopes = grant.scopes
                connection.expires_at = grant.expires_at
                connection.last_used_at = now
                connection.updated_at = now
                return grant.access_token
    # Outside the block: the degraded status is committed before the caller hears of it.
    raise failure


async def reencrypt_all(kit: ProviderKit, *, batch_size: int = REENCRYPT_BATCH) -> int:
    """Re-encrypt every stored token under the current key; returns the rows rewritten.

    Batches of rows in id order, each in its own transaction with the rows
    locked, so a refresh running meanwhile is neither blocked for long nor
    overwritten. Afterwards the old key can leave AURORA_INGEST_TOKEN_KEYS.
    A token no key opens stops the run loudly (TokenDecryptError).
    """
    rewritten = 0
    after: uuid.UUID | None = None
    while True:
        async with kit.sessions() as session, session.begin():
            rows = await repository.token_batch(session, after, batch_size)
            for row in rows:
                if row.access_token_enc is not None:
                    row.access_token_enc = kit.cipher.rotate(row.access_token_enc)
                if row.refresh_token_enc is not None:
                    row.refresh_token_enc = kit.cipher.rotate(row.refresh_token_enc)
        if not rows:
            break
        rewritten += len(rows)
        after = rows[-1].id
    log.info("provider tokens re-encrypted", extra={"connections": rewritten})
    return rewritten
