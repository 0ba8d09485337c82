"""Queries on `users`; callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, select, update
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


def _active() -> ColumnElement[bool]:
    """Neither soft-deleted nor deactivated: the only accounts that may sign in or act."""
    return and_(User.deleted_at.is_(None), User.deactivated_at.is_(None))


async def active_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email, _active()))
    return result.scalar_one_or_none()


async def active_by_id(
    session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False
) -> User | None:
    query = select(User).where(User.id == user_id, _active())
    if for_update:
        # Re-read under the lock even if the session already holds the object.
        query = query.with_for_update().execution_options(populate_existing=True)
    result = await session.execute(query)
    return result.scalar_one_or_none()


async def undeleted_by_id_for_update(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """Active or deactivated (an admin's suspension can be lifted), never soft-deleted."""
    result = await session.execute(
        select(User)
        .where(User.id == user_id, User.deleted_at.is_(None))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def set_deactivated(session: AsyncSession, user: User, at: datetime | None) -> None:
    user.deactivated_at = at
    await session.flush()


async def update_profile(session: AsyncSession, user: User, changes: dict[str, object]) -> None:
    for name, value in changes.items():
        setattr(user, name, value)
    await session.flush()


async def set_password(
    session: AsyncSession, user: User, password_hash: str, changed_at: datetime
) -> None:
    user.password_hash = password_hash
    user.password_changed_at = changed_at
    await session.flush()


async def set_role(session: AsyncSession, user: User, role: str) -> None:
    user.role = role
    await session.flush()


async def soft_delete(session: AsyncSession, user: User, deleted_at: datetime) -> None:
    user.deleted_at = deleted_at
    await session.flush()


async def lock_expired_deletions(
    session: AsyncSession, deleted_before: datetime, limit: int
) -> Sequence[tuple[uuid.UUID, str]]:
    """(id, email) of accounts soft-deleted before the cutoff, locked; rows another purge
    run holds are skipped, so two runs never purge (or announce) one user twice."""
    result = await session.execute(
        select(User.id, User.email)
        .where(User.deleted_at.is_not(None), User.deleted_at <= deleted_before)
        .order_by(User.deleted_at, User.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(row.id, row.email) for row in result]


async def hard_delete(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> None:
    """Rows referencing users with ON DELETE CASCADE (grants, sessions) go with them."""
    await session.execute(
        delete(User).where(User.id.in_(user_ids)).execution_options(synchronize_session=False)
    )


async def set_password_hash(session: AsyncSession, user_id: uuid.UUID, password_hash: str) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )
