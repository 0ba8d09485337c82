"""Role changes: the only way a role other than athlete comes to exist."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

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
    if target.role == role:
        return target
    await users.set_role(session, target, role)
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
    return target
