"""Queries on `signing_keys`; callers own the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.auth.models import SigningKey

_KEYS_LOCK = "identity:signing_keys"


async def lock_signing_keys(session: AsyncSession) -> None:
    """Serialise key creation across replicas until the transaction ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": _KEYS_LOCK})


async def active_key(session: AsyncSession) -> SigningKey | None:
    result = await session.execute(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def add_key(
    session: AsyncSession, *, kid: str, private_pem: str, public_jwk: dict[str, Any]
) -> SigningKey:
    key = SigningKey(kid=kid, private_pem=private_pem, public_jwk=public_jwk)
    session.add(key)
    await session.flush()
    return key


async def retire_active_keys(session: AsyncSession, now: datetime) -> None:
    await session.execute(
        update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now)
    )


async def published_keys(session: AsyncSession, retired_after: datetime) -> Sequence[SigningKey]:
    """Active keys, plus retired ones whose tokens may still be unexpired."""
    result = await session.execute(
        select(SigningKey)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > retired_after))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid)
    )
    return result.scalars().all()
