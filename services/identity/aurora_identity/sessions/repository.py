"""Queries on `refresh_tokens` and `revocations`; callers own the transaction.

Lock order, the same on every path so that none can deadlock another:
the user's row (share for issuing, exclusive for revoking the user), then the
family's advisory lock, then token rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.sessions.models import RefreshToken, Revocation
from aurora_identity.users.models import User


@dataclass(frozen=True)
class TokenState:
    """A plain snapshot (not an ORM instance, which the identity map could keep stale)."""

    id: uuid.UUID
    family_id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None

    @property
    def spent(self) -> bool:
        return self.used_at is not None or self.revoked_at is not None


_STATE = (
    RefreshToken.id,
    RefreshToken.family_id,
    RefreshToken.user_id,
    RefreshToken.created_at,
    RefreshToken.expires_at,
    RefreshToken.used_at,
    RefreshToken.revoked_at,
)


async def lock_active_user(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    """The role of a user who may hold tokens, share-locked until the transaction ends.

    A concurrent deletion, deactivation or `revoke_user` (which lock the row
    exclusively) either finishes first, and is seen here, or waits for this
    transaction, and then sees the tokens it issued.
    """
    result = await session.execute(
        select(User.role)
        .where(User.id == user_id, User.deleted_at.is_(None), User.deactivated_at.is_(None))
        .with_for_update(read=True)
    )
    return result.scalar_one_or_none()


async def lock_user_for_revocation(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Waits for logins and refreshes of this user in flight (see `lock_active_user`)."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))


async def lock_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    """Serialises rotation and revocation of one family until the transaction ends, so a
    revocation never misses the child a concurrent rotation is inserting."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:family, 0))"),
        {"family": str(family_id)},
    )


async def insert_token(
    session: AsyncSession,
    *,
    token_id: uuid.UUID,
    family_id: uuid.UUID,
    user_id: uuid.UUID,
    token_hash: bytes,
    parent_id: uuid.UUID | None,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    await session.execute(
        insert(RefreshToken).values(
            id=token_id,
            family_id=family_id,
            user_id=user_id,
            token_hash=token_hash,
            parent_id=parent_id,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


async def token_state(session: AsyncSession, token_hash: bytes) -> TokenState | None:
    result = await session.execute(select(*_STATE).where(RefreshToken.token_hash == token_hash))
    row = result.one_or_none()
    return TokenState(*row) if row is not None else None


async def mark_used(session: AsyncSession, token_hash: bytes, now: datetime) -> TokenState | None:
    """The atomic step of rotation: of two callers with one token, only one gets the row."""
    result = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(*_STATE)
    )
    row = result.one_or_none()
    return TokenState(*row) if row is not None else None


async def revoke_family(
    session: AsyncSession, family_id: uuid.UUID, reason: str, now: datetime
) -> int:
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def revoke_user_tokens(
    session: AsyncSession, user_id: uuid.UUID, cutoff: datetime, reason: str, now: datetime
) -> int:
    result = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.user_id == user_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.created_at <= cutoff,
        )
        .values(revoked_at=now, revoke_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def upsert_sid_revocation(
    session: AsyncSession, family_id: uuid.UUID, expires_at: datetime
) -> None:
    stmt = insert(Revocation).values(kind="sid", key=str(family_id), expires_at=expires_at)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Revocation.kind, Revocation.key],
            set_={"expires_at": func.greatest(Revocation.expires_at, stmt.excluded.expires_at)},
        )
    )


async def upsert_user_revocation(
    session: AsyncSession, user_id: uuid.UUID, cutoff: datetime, expires_at: datetime
) -> tuple[datetime, datetime]:
    """The stored (cutoff, expires_at): the later of the old and the new of each."""
    stmt = insert(Revocation).values(
        kind="user", key=str(user_id), cutoff=cutoff, expires_at=expires_at
    )
    result = await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Revocation.kind, Revocation.key],
            set_={
                "cutoff": func.greatest(Revocation.cutoff, stmt.excluded.cutoff),
                "expires_at": func.greatest(Revocation.expires_at, stmt.excluded.expires_at),
            },
        ).returning(Revocation.cutoff, Revocation.expires_at)
    )
    stored_cutoff, stored_expiry = result.one()
    if stored_cutoff is None:  # excluded by the table's check constraint
        raise RuntimeError("user revocation without a cutoff")
    return stored_cutoff, stored_expiry


async def user_cutoff(session: AsyncSession, user_id: uuid.UUID) -> datetime | None:
    result = await session.execute(
        select(Revocation.cutoff).where(Revocation.kind == "user", Revocation.key == str(user_id))
    )
    return result.scalar_one_or_none()


async def unexpired_revocations(session: AsyncSession, now: datetime) -> Sequence[Revocation]:
    result = await session.execute(select(Revocation).where(Revocation.expires_at > now))
    return result.scalars().all()


async def prune(
    session: AsyncSession, *, revocations_before: datetime, tokens_before: datetime
) -> None:
    await session.execute(delete(Revocation).where(Revocation.expires_at < revocations_before))
    await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < tokens_before))
