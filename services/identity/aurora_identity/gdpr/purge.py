"""The hard-delete half of erasure: accounts past their grace period disappear.

Only identity's own rows go; the audit log keeps its snapshots (no foreign key
reaches it). Every other service erases its rows when `user.purged` arrives.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.audit import actions
from aurora_identity.audit import service as audit
from aurora_identity.db import BUS, STREAM
from aurora_identity.gdpr import repository
from aurora_identity.throttle import service as throttle
from aurora_identity.users import repository as users
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.outbox import enqueue

_UNSET = SecretStr("")


async def purge_expired_accounts(
    session: AsyncSession,
    now: datetime,
    grace: timedelta,
    *,
    limit: int = 200,
    producer: str = "identity",
    throttle_secret: SecretStr = _UNSET,
) -> list[uuid.UUID]:
    """Purge up to `limit` accounts soft-deleted at or before `now - grace`; returns their ids.

    `user.purged` rides in the same transaction as the deletion, and the rows are
    locked with SKIP LOCKED, so each user is announced exactly once even with
    several purge runs at the same time. `throttle_secret` is the configured key of
    the login counters (settings.login_throttle_secret); unset, identity's stored one.
    """
    expired = await users.lock_expired_deletions(session, now - grace, limit)
    if not expired:
        return []
    ids = [user_id for user_id, _ in expired]
    for user_id, email in expired:
        await throttle.forget_email(session, email, throttle_secret)
        # The email is given, not looked up: the row is about to go, the snapshot stays.
        await audit.record(
            session,
            action=actions.USER_PURGED,
            actor_role=actions.SYSTEM_ROLE,
            subject_user_id=user_id,
            subject_email=email,
            resource=f"user:{user_id}",
        )
    await repository.forget_exports(session, ids)
    await users.hard_delete(session, ids)
    events = [
        new_event("user.purged", producer=producer, user_id=i, payload={"user_id": str(i)})
        for i in ids
    ]
    await enqueue(session, BUS.outbox, STREAM, events)
    return ids
