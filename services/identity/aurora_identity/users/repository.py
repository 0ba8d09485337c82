"""Queries on `users`; callers own the transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.users.models import User


async def insert_if_new(
    session: AsyncSession, *, user_id: uuid.UUID, email: str, password_hash: str, role: str
) -> bool:
    """True when the row was created; an existing email is left exactly as it was.

    ON CONFLICT DO NOTHING rather than read-then-insert: two concurrent
    registrations of one email cannot both create a user, nor fail with a 500.
    """
    result = await session.execute(
        insert(User)
        .values(id=user_id, email=email, password_hash=password_hash, role=role)
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User.id)
    )
    return result.scalar_one_or_none() is not None


async def active_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(
        select(User).where(User.email == email, User.deleted_at.is_(None))
    )
    return result.scalar_one_or_none()


async def active_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    result = await session.execute(
        select(User).where(User.id == user_id, User.deleted_at.is_(None))
    )
    return result.scalar_one_or_none()


async def set_password_hash(session: AsyncSession, user_id: uuid.UUID, password_hash: str) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )
