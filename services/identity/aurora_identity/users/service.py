"""The signed-in user's own account."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.users import repository
from aurora_identity.users.models import User
from aurora_shared.auth import Principal, unauthorized


async def current_user(session: AsyncSession, principal: Principal) -> User:
    """A valid signature is not enough: a deleted account's tokens stop working at once."""
    user = await repository.active_by_id(session, principal.user_id)
    if user is None:
        raise unauthorized("account is not active")
    return user
