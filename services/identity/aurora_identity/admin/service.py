"""Role changes: the only way a role other than athlete comes to exist."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.audit import actions
from aurora_identity.audit import service as audit
from aurora_identity.config import IdentitySettings
from aurora_identity.db import BUS, STREAM
from aurora_identity.users import repository as users
from aurora_identity.users.models import User
from aurora_identity.users.service import revoke_tokens
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.errors import NotFoundError, ProblemError


async def change_role(
    session: AsyncSession,
    redis: Redis,
    settings: IdentitySettings,
    *,
    admin: User,
    user_id: uuid.UUID,
    role: str,
) -> User:
    """Nobody assigns a role to themselves, admins included: an admin demoting
    themselves could leave no admin, and promotion needs a second person anyway."""
    if user_id == admin.id:
        raise ProblemError(403, "you cannot change your own role")
    target = await users.active_by_id(session, user_id, for_update=True)
    if target is None:
        raise NotFoundError("user")
    await _apply_role(session, redis, settings, target, role, by=admin)
    return target


async def operator_set_role(
    session: AsyncSession, redis: Redis, settings: IdentitySettings, *, email: str, role: str
) -> User:
    """The operator's bootstrap (`aurora users set-role`): the first admin cannot be
    made by an admin. Runs with shell access to the deployment, so it is audited as
    the system rather than as a user."""
    target = await users.active_by_email(session, email.strip().lower())
    if target is None:
        raise NotFoundError("user")
    target = await users.active_by_id(session, target.id, for_update=True) or target
    await _apply_role(session, redis, settings, target, role, by=None)
    return target


async def _apply_role(
    session: AsyncSession,
    redis: Redis,
    settings: IdentitySettings,
    target: User,
    role: str,
    *,
    by: User | None,
) -> None:
    """The one place a role changes, so its audit row is written once, by an admin
    (`by`) or by the operator (None: the system). Setting the same role changes nothing
    and records nothing."""
    if target.role == role:
        return
    previous = target.role
    await users.set_role(session, target, role)
    await audit.record(
        session,
        action=actions.ROLE_CHANGED,
        actor_id=by.id if by else None,
        actor_role=by.role if by else None,
        actor_email=by.email if by else None,
        subject_user_id=target.id,
        resource=f"user:{target.id}",
        details={"from": previous, "to": role, "by": "admin" if by else "operator"},
    )
    # Tokens carry the role; the old ones must not keep the old role for 15 minutes.
    await revoke_tokens(
        session, redis, settings, target.id, datetime.now(UTC), reason="role_changed"
    )
    event = new_event(
        "user.role_changed",
        producer=settings.service_name,
        user_id=target.id,
        payload={"user_id": str(target.id), "role": role},
    )
    await enqueue(session, BUS.outbox, STREAM, event)


async def _target(session: AsyncSession, admin: User, user_id: uuid.UUID, verb: str) -> User:
    """The account to (re)activate, row-locked; never the admin's own: an admin who
    suspended themselves would need another admin anyway, and could lock everyone out."""
    if user_id == admin.id:
        raise ProblemError(403, f"you cannot {verb} your own account")
    target = await users.undeleted_by_id_for_update(session, user_id)
    if target is None:
        raise NotFoundError("user")
    return target


async def deactivate(
    session: AsyncSession,
    redis: Redis,
    settings: IdentitySettings,
    *,
    admin: User,
    user_id: uuid.UUID,
) -> User:
    """Suspends an account: sign-in and refresh refuse it, and every token it holds dies
    at once in every service (the same revocation cutoff a deletion sets). Its data stay
    untouched and keep flowing in; nothing is purged. Deactivating twice changes nothing."""
    target = await _target(session, admin, user_id, "deactivate")
    if target.deactivated_at is not None:
        return target
    now = datetime.now(UTC)
    await users.set_deactivated(session, target, now)
    await revoke_tokens(session, redis, settings, target.id, now, reason="deactivated")
    await _announce(
        session,
        settings,
        admin,
        target,
        action=actions.USER_DEACTIVATED,
        payload={"deactivated_at": now.isoformat()},
    )
    return target


async def reactivate(
    session: AsyncSession, settings: IdentitySettings, *, admin: User, user_id: uuid.UUID
) -> User:
    """Lifts a suspension: the user signs in again and gets new tokens. Tokens from before
    the deactivation stay dead (their `iat` is at or before the revocation cutoff)."""
    target = await _target(session, admin, user_id, "reactivate")
    if target.deactivated_at is None:
        return target
    suspended_at = target.deactivated_at
    now = datetime.now(UTC)
    await users.set_deactivated(session, target, None)
    await _announce(
        session,
        settings,
        admin,
        target,
        action=actions.USER_REACTIVATED,
        payload={"reactivated_at": now.isoformat(), "deactivated_at": suspended_at.isoformat()},
    )
    return target


async def _announce(
    session: AsyncSession,
    settings: IdentitySettings,
    admin: User,
    target: User,
    *,
    action: str,
    payload: dict[str, str],
) -> None:
    """Audit row and `identity.events` event, in the caller's transaction. Consumers that
    do not know the event type acknowledge and skip it: tokens are already refused
    everywhere through the revocation cache, so no service needs it to block the user."""
    await audit.record(
        session,
        action=action,
        actor_id=admin.id,
        actor_role=admin.role,
        actor_email=admin.email,
        subject_user_id=target.id,
        resource=f"user:{target.id}",
        details=dict(payload),
    )
    event = new_event(
        action,
        producer=settings.service_name,
        user_id=target.id,
        payload={"user_id": str(target.id), **payload},
    )
    await enqueue(session, BUS.outbox, STREAM, event)
