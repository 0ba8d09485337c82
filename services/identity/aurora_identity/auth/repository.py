"""Queries on `signing_keys`; callers own the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.auth.models import SigningKey

_KEYS_LOCK = "identity:signing_keys"


async def lock_signing_keys(session: AsyncSession) -> None:
    """Serialise key creation across replicas until the transaction ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": _KEYS_LOCK})


async def active_key(session: AsyncSession) -> SigningKey | None:
    result = await session.execute(
        select(SigningKey)
        .where(SigningKey.activated_at.is_not(None), SigningKey.retired_at.is_(None))
        .order_by(SigningKey.activated_at.desc(), SigningKey.kid)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def next_key(session: AsyncSession) -> SigningKey | None:
    """The oldest pre-published key: the one verifiers have known longest."""
    result = await session.execute(
        select(SigningKey)
        .where(SigningKey.activated_at.is_(None), SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at, SigningKey.kid)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def add_key(
    session: AsyncSession,
    *,
    kid: str,
    private_pem: str,
    public_jwk: dict[str, Any],
    activated_at: datetime | None,
) -> SigningKey:
    key = SigningKey(
        kid=kid, private_pem=private_pem, public_jwk=public_jwk, activated_at=activated_at
    )
    session.add(key)
    await session.flush()
    return key


async def activate(session: AsyncSession, kid: str, now: datetime) -> None:
    await session.execute(update(SigningKey).where(SigningKey.kid == kid).values(activated_at=now))


async def retire_active_keys(session: AsyncSession, now: datetime) -> None:
    await session.execute(
        update(SigningKey)
        .where(SigningKey.activated_at.is_not(None), SigningKey.retired_at.is_(None))
        .values(retired_at=now)
    )


async def delete_all_keys(session: AsyncSession) -> int:
    """Emergency: every key in the table may have leaked with the one that did."""
    result = await session.execute(delete(SigningKey))
    return int(getattr(result, "rowcount", 0) or 0)


async def published_keys(session: AsyncSession, retired_after: datetime) -> Sequence[SigningKey]:
    """The next and the active key, plus retired ones whose tokens may be unexpired."""
    result = await session.execute(
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > retired_after))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
    )
    return result.scalars().all()
