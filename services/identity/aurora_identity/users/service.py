"""The signed-in user's own account: profile, password, and who may act as admin."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.config import IdentitySettings
from aurora_identity.sessions.revocation import revoke_user
from aurora_identity.throttle import service as throttle
from aurora_identity.throttle.service import AttemptRefusedError
from aurora_identity.users import repository
from aurora_identity.users.models import User
from aurora_shared.auth import Principal, unauthorized
from aurora_shared.errors import ProblemError

if TYPE_CHECKING:
    # Only a type here: importing auth.service at runtime would close the cycle
    # auth.service -> audit.service -> users.service -> auth.service.
    from aurora_identity.auth.service import AuthContext

WRONG_PASSWORD = "password is incorrect"  # noqa: S105 (a message, not a secret)


async def current_user(
    session: AsyncSession, principal: Principal, *, for_update: bool = False
) -> User:
    """A valid signature is not enough: a deleted account's tokens stop working at once."""
    user = await repository.active_by_id(session, principal.user_id, for_update=for_update)
    if user is None:
        raise unauthorized("account is not active")
    return user


async def current_admin(session: AsyncSession, principal: Principal) -> User:
    """The role is read from the database, not the token: a demoted admin loses it at once."""
    user = await current_user(session, principal)
    if user.role != "admin":
        raise ProblemError(403, "admin role required")
    return user


async def confirm_password(
    session: AsyncSession, ctx: AuthContext, user: User, password: str
) -> None:
    """Re-entry of the password for a sensitive action, throttled like a login: with
    a stolen access token this would otherwise be an unlimited password oracle."""
    attempt = await throttle.begin_attempt(session, user.email, ctx.settings)
    attempt.check()
    if not await ctx.passwords.verify(user.password_hash, password):
        await attempt.failed(session)
        raise AttemptRefusedError(401, WRONG_PASSWORD)
    await attempt.succeeded(session)


async def revoke_tokens(
    session: AsyncSession,
    redis: Redis,
    settings: IdentitySettings,
    user_id: uuid.UUID,
    at: datetime,
    *,
    reason: str,
) -> None:
    """Every access and refresh token of the user issued up to `at` dies, in every service.

    In the caller's transaction (PostgreSQL) and in the Redis cache at once; a Redis
    failure is a 503 that rolls the whole change back rather than half-applying it.
    """
    await revoke_user(
        session,
        redis,
        user_id,
        at,
        access_ttl_s=settings.access_token_ttl_s,
        reason=reason,
    )


async def update_profile(session: AsyncSession, user: User, changes: dict[str, object]) -> User:
    await repository.update_profile(session, user, changes)
    return user


async def change_password(
    session: AsyncSession, redis: Redis, ctx: AuthContext, user: User, *, current: str, new: str
) -> None:
    """Every session ends, the caller's included: whoever else knew the old password
    (and may hold a token obtained with it) is out, and the caller signs in again."""
    await confirm_password(session, ctx, user, current)
    now = datetime.now(UTC)
    await repository.set_password(session, user, await ctx.passwords.hash(new), now)
    await revoke_tokens(session, redis, ctx.settings, user.id, now, reason="password_changed")
