"""Erasure (the soft-delete half) and export, for the signed-in account holder."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.audit import actions
from aurora_identity.audit import service as audit
from aurora_identity.auth.service import AuthContext
from aurora_identity.db import BUS, STREAM
from aurora_identity.gdpr import repository, sources
from aurora_identity.gdpr.schemas import DeletionOut, ExportOut, IdentityExport
from aurora_identity.users import repository as users
from aurora_identity.users.models import User
from aurora_identity.users.schemas import MeOut
from aurora_identity.users.service import confirm_password, current_user, revoke_tokens
from aurora_shared.auth import Principal, unauthorized
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.errors import ProblemError


def grace_period(ctx: AuthContext) -> timedelta:
    return timedelta(days=ctx.settings.erasure_grace_days)


async def delete_account(
    session: AsyncSession, redis: Redis, ctx: AuthContext, principal: Principal, password: str
) -> DeletionOut:
    """Soft delete at once: tokens revoked, `user.deleted` out; the purge follows later."""
    user = await current_user(session, principal)
    await confirm_password(session, ctx, user, password)
    # Locked only now, after the throttle row (the order login takes them in), and
    # re-checked: of two parallel deletions only one announces `user.deleted`.
    locked = await users.active_by_id(session, user.id, for_update=True)
    if locked is None:
        raise unauthorized("account is not active")
    now = datetime.now(UTC)
    await users.soft_delete(session, locked, now)
    await revoke_tokens(session, redis, ctx.settings, locked.id, now, reason="account_deleted")
    event = new_event(
        "user.deleted",
        producer=ctx.settings.service_name,
        user_id=locked.id,
        payload={"user_id": str(locked.id), "deleted_at": now.isoformat()},
    )
    await enqueue(session, BUS.outbox, STREAM, event)
    await audit.record(
        session,
        action=actions.USER_DELETED,
        actor=principal,
        subject_user_id=locked.id,
        resource=f"user:{locked.id}",
        details={"deleted_at": now},
    )
    return DeletionOut(deleted_at=now, purge_after=now + grace_period(ctx))


def export_refused(retry_after_s: int) -> ProblemError:
    return ProblemError(
        429,
        "an export was already made in the last 24 hours",
        headers={"Retry-After": str(retry_after_s)},
    )


async def _identity_part(session: AsyncSession, user: User) -> IdentityExport:
    grants = await repository.table_rows(session, *repository.GRANTS_TABLE, user.id)
    sessions = await repository.table_rows(session, *repository.SESSIONS_TABLE, user.id)
    return IdentityExport(
        profile=MeOut.model_validate(user),
        password_changed_at=user.password_changed_at,
        grants=grants or [],
        sessions=sessions or [],
    )


async def export(
    session: AsyncSession, ctx: AuthContext, principal: Principal, token: str
) -> ExportOut:
    """The slot is taken first, so a refused request costs the other services nothing."""
    user = await current_user(session, principal)
    now = datetime.now(UTC)
    interval = timedelta(seconds=ctx.settings.export_interval_s)
    last = await repository.claim_export(session, user.id, now, interval)
    if last is not None:
        wait = (last + interval - now).total_seconds()
        raise export_refused(max(1, math.ceil(wait)))
    identity = await _identity_part(session, user)
    parts = await sources.collect(
        ctx.settings.export_sources,
        token,
        timeout_s=ctx.settings.export_timeout_s,
        max_bytes=ctx.settings.export_max_bytes,
    )
    complete = all(p.status == "ok" for p in parts.values())
    await audit.record(
        session,
        action=actions.USER_EXPORTED,
        actor=principal,
        subject_user_id=user.id,
        resource=f"user:{user.id}",
        details={"complete": complete, "services": {n: p.status for n, p in parts.items()}},
    )
    return ExportOut(
        generated_at=now,
        user_id=user.id,
        complete=complete,
        identity=identity,
        services=parts,
    )
