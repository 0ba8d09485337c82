"""Queries on `grants`; callers own the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.grants.models import OPEN_STATUSES_SQL, Grant
from aurora_identity.grants.rules import OPEN
from aurora_identity.users.models import User


async def insert_if_no_open(
    session: AsyncSession,
    *,
    athlete_id: uuid.UUID,
    coach_id: uuid.UUID,
    scopes: list[str],
    status: str,
    initiated_by: uuid.UUID,
) -> Grant | None:
    """The new grant, or None when the pair already has an open one.

    ON CONFLICT against the partial unique index, so two racing invitations for one
    pair leave exactly one row and neither request fails.
    """
    result = await session.execute(
        insert(Grant)
        .values(
            id=uuid.uuid4(),
            athlete_id=athlete_id,
            coach_id=coach_id,
            scopes=scopes,
            status=status,
            initiated_by=initiated_by,
        )
        .on_conflict_do_nothing(
            index_elements=[Grant.athlete_id, Grant.coach_id],
            index_where=text(OPEN_STATUSES_SQL),
        )
        .returning(Grant)
    )
    return result.scalar_one_or_none()


def _party(user_id: uuid.UUID) -> Any:
    return or_(Grant.athlete_id == user_id, Grant.coach_id == user_id)


async def mine_for_update(
    session: AsyncSession, grant_id: uuid.UUID, user_id: uuid.UUID
) -> Grant | None:
    """Locked, so two concurrent accepts (or accept and revoke) are applied one at a time."""
    result = await session.execute(
        select(Grant).where(Grant.id == grant_id, _party(user_id)).with_for_update()
    )
    return result.scalar_one_or_none()


async def mine(session: AsyncSession, grant_id: uuid.UUID, user_id: uuid.UUID) -> Grant | None:
    result = await session.execute(select(Grant).where(Grant.id == grant_id, _party(user_id)))
    return result.scalar_one_or_none()


async def open_for_user_for_update(session: AsyncSession, user_id: uuid.UUID) -> list[Grant]:
    result = await session.execute(
        select(Grant)
        .where(_party(user_id), Grant.status.in_(sorted(OPEN)))
        .order_by(Grant.created_at, Grant.id)
        .with_for_update()
    )
    return list(result.scalars())


async def page_for_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    status: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[Grant, str | None]]:
    """Newest first, each with the initiator's email (the recipient must know who asks)."""
    query = (
        select(Grant, User.email)
        .outerjoin(User, User.id == Grant.initiated_by)
        .where(_party(user_id))
    )
    if status is not None:
        query = query.where(Grant.status == status)
    if after is not None:
        query = query.where(tuple_(Grant.created_at, Grant.id) < tuple_(after[0], after[1]))
    query = query.order_by(Grant.created_at.desc(), Grant.id.desc()).limit(limit)
    result = await session.execute(query)
    return [(row[0], row[1]) for row in result]


async def email_of(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    result = await session.execute(select(User.email).where(User.id == user_id))
    return result.scalar_one_or_none()


async def set_status(
    session: AsyncSession,
    grant: Grant,
    *,
    status: str,
    at: datetime,
    by: uuid.UUID | None,
) -> None:
    grant.status = status
    if status == "active":
        grant.accepted_at = at
    else:
        grant.revoked_at = at
        grant.revoked_by = by
    await session.flush()
