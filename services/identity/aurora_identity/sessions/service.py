"""Sessions: a login opens a refresh-token family, each refresh rotates it, reuse kills it.

A refresh token is an opaque random string; only its SHA-256 is stored. Using one
marks it used and issues its successor in the same family (RFC 9700 §4.14). A
token presented after it was used or revoked means two parties hold the family:
the whole family is revoked, its `sid` with it, so the newest refresh token and
every access token of the session die too. Two parallel refreshes with one
token would look like such a reuse and kill the winner's fresh tokens, so a
second presentation within `refresh_race_grace_s` of the first use is only
refused (sessions/rules.py): of parallel refreshes exactly one succeeds, and
the family lives on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.audit import actions
from aurora_identity.audit import service as audit
from aurora_identity.auth import tokens
from aurora_identity.auth.keys import KeyRing
from aurora_identity.auth.schemas import TokenOut
from aurora_identity.config import IdentitySettings
from aurora_identity.sessions import repository, rules
from aurora_identity.sessions.revocation import cutoff_seconds, revoke_sid
from aurora_shared.auth import Principal

log = logging.getLogger("aurora.identity.sessions")

REFRESH_TOKEN_BYTES = 32
# Issuing waits for the second after a user's cutoff (JWT times are whole seconds); a
# cutoff further ahead than this is not waited for: the session is refused instead.
MAX_ISSUE_WAIT_S = 2.0


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_refresh_token() -> tuple[str, bytes]:
    token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
    return token, hash_token(token)


async def _wait_past(cutoff: datetime | None) -> bool:
    """A token issued in the cutoff's own second would have `iat <= cutoff`: born revoked."""
    if cutoff is None:
        return True
    delay = cutoff_seconds(cutoff) + 1 - time.time()
    if delay <= 0:
        return True
    if delay > MAX_ISSUE_WAIT_S:
        return False
    await asyncio.sleep(delay)
    return True


async def _issue(
    session: AsyncSession,
    settings: IdentitySettings,
    keys: KeyRing,
    *,
    user_id: uuid.UUID,
    role: str,
    family_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    cutoff: datetime | None,
) -> TokenOut | None:
    if not await _wait_past(cutoff):
        return None
    now = datetime.now(UTC)
    refresh, digest = new_refresh_token()
    await repository.insert_token(
        session,
        token_id=uuid.uuid4(),
        family_id=family_id,
        user_id=user_id,
        token_hash=digest,
        parent_id=parent_id,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s),
    )
    ttl = settings.access_token_ttl_s
    claims = tokens.access_claims(
        user_id=user_id,
        role=role,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        now=int(now.timestamp()),
        ttl_s=ttl,
        sid=family_id,
    )
    return TokenOut(
        access_token=tokens.sign(await keys.signer(), claims),
        expires_in=ttl,
        refresh_token=refresh,
        refresh_expires_in=settings.refresh_token_ttl_s,
    )


async def start_session(
    session: AsyncSession,
    settings: IdentitySettings,
    keys: KeyRing,
    user_id: uuid.UUID,
    *,
    not_before: datetime,
) -> TokenOut | None:
    """A new family for a user whose credentials were checked at `not_before`.

    None when the user is gone or was revoked since then (a password change or a
    deletion that committed while the password was being verified).
    """
    role = await repository.lock_active_user(session, user_id)
    if role is None:
        return None
    cutoff = await repository.user_cutoff(session, user_id)
    if cutoff is not None and cutoff >= not_before:
        return None
    return await _issue(
        session,
        settings,
        keys,
        user_id=user_id,
        role=role,
        family_id=uuid.uuid4(),
        parent_id=None,
        cutoff=cutoff,
    )


async def rotate(
    session: AsyncSession,
    redis: Redis,
    settings: IdentitySettings,
    keys: KeyRing,
    presented: str,
) -> TokenOut | None:
    """New tokens for a valid refresh token; None (answer 401) for anything else.

    The caller must commit even when this returns None: a detected reuse has
    revoked the family, and that must not roll back with the refusal.
    """
    digest = hash_token(presented)
    state = await repository.token_state(session, digest)
    if state is None:
        return None
    role = await repository.lock_active_user(session, state.user_id)
    if role is None:
        return None
    await repository.lock_family(session, state.family_id)
    # The user's cutoff cannot move while the share lock above is held. Waiting out its
    # second happens before the token is marked used, so `used_at` is the moment the
    # successor is issued, from which the race window below is measured.
    cutoff = await repository.user_cutoff(session, state.user_id)
    if cutoff is not None and state.created_at <= cutoff:
        return None  # revoke_user already revoked it; only a skewed clock gets here
    if not await _wait_past(cutoff):
        return None
    used = await repository.mark_used(session, digest, datetime.now(UTC))
    if used is None:
        await _refuse_spent(session, redis, settings, digest)
        return None
    return await _issue(
        session,
        settings,
        keys,
        user_id=used.user_id,
        role=role,
        family_id=used.family_id,
        parent_id=used.id,
        cutoff=cutoff,
    )


async def _refuse_spent(
    session: AsyncSession, redis: Redis, settings: IdentitySettings, digest: bytes
) -> None:
    """Another transaction used (or revoked) the token first; tell a race from a replay."""
    current = await repository.token_state(session, digest)
    if current is None:
        return
    verdict = rules.spent_token_verdict(
        used_at=current.used_at,
        revoked_at=current.revoked_at,
        now=datetime.now(UTC),
        grace=timedelta(seconds=settings.refresh_race_grace_s),
    )
    if verdict == "race":
        log.info("parallel refresh lost the race", extra={"sid": str(current.family_id)})
    elif verdict == "reuse":
        await _revoke_reused(session, redis, settings, current.family_id, current.user_id)


async def _revoke_reused(
    session: AsyncSession,
    redis: Redis,
    settings: IdentitySettings,
    family_id: uuid.UUID,
    user_id: uuid.UUID,
) -> None:
    log.warning("refresh token reused; revoking its family", extra={"sid": str(family_id)})
    await revoke_sid(
        session,
        redis,
        family_id,
        reason="reuse",
        access_ttl_s=settings.access_token_ttl_s,
        cache_required=False,
    )
    # Whoever presented the spent token is unknown: it may be the thief or the owner.
    await audit.record(
        session,
        action=actions.REFRESH_REUSE_DETECTED,
        actor_role=actions.ANONYMOUS_ROLE,
        subject_user_id=user_id,
        resource=f"session:{family_id}",
        details={"family_id": family_id},
    )


async def logout(
    session: AsyncSession, redis: Redis, settings: IdentitySettings, caller: Principal
) -> None:
    """Revokes the caller's session; a token without `sid` (not from a login) has none."""
    try:
        family_id = uuid.UUID(str(caller.claims["sid"]))
    except (KeyError, ValueError):
        return
    await revoke_sid(
        session, redis, family_id, reason="logout", access_ttl_s=settings.access_token_ttl_s
    )
    await audit.record(
        session,
        action=actions.LOGOUT,
        actor=caller,
        subject_user_id=caller.user_id,
        resource=f"session:{family_id}",
        details={"session_id": family_id},
    )
