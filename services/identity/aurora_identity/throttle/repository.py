"""Queries on `login_throttle`; callers own the transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.throttle.models import LoginThrottle, ServerSecret
from aurora_identity.throttle.rules import ThrottleState


async def lock(session: AsyncSession, key: str, now: datetime) -> ThrottleState | None:
    """The key's state, its row locked until the transaction ends.

    The row is created first (empty) so that even the very first attempts on a key
    queue behind one another: concurrent guesses cannot all slip past the count.
    """
    await session.execute(
        insert(LoginThrottle)
        .values(email_key=key, failures=0, window_started_at=now, blocks=0)
        .on_conflict_do_nothing(index_elements=[LoginThrottle.email_key])
    )
    row = (
        await session.execute(
            select(
                LoginThrottle.failures,
                LoginThrottle.window_started_at,
                LoginThrottle.blocked_until,
                LoginThrottle.blocks,
            )
            .where(LoginThrottle.email_key == key)
            .with_for_update()
        )
    ).one()
    if row.failures == 0 and row.blocks == 0 and row.blocked_until is None:
        return None
    return ThrottleState(
        failures=row.failures,
        window_started_at=row.window_started_at,
        blocked_until=row.blocked_until,
        blocks=row.blocks,
    )


async def save(session: AsyncSession, key: str, state: ThrottleState) -> None:
    await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.email_key == key)
        .values(
            failures=state.failures,
            window_started_at=state.window_started_at,
            blocked_until=state.blocked_until,
            blocks=state.blocks,
        )
        .execution_options(synchronize_session=False)
    )


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(
        delete(LoginThrottle)
        .where(LoginThrottle.email_key == key)
        .execution_options(synchronize_session=False)
    )


async def delete_stale(
    session: AsyncSession, *, window_before: datetime, blocked_before: datetime
) -> int:
    """Rows whose window began before `window_before` and whose block (if any) ended
    before `blocked_before`: what `rules.is_stale` says, as one statement."""
    result = await session.execute(
        delete(LoginThrottle)
        .where(
            LoginThrottle.window_started_at <= window_before,
            or_(
                LoginThrottle.blocked_until.is_(None),
                LoginThrottle.blocked_until <= blocked_before,
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def stored_secret(session: AsyncSession, name: str) -> bytes | None:
    result = await session.execute(select(ServerSecret.value).where(ServerSecret.name == name))
    return result.scalar_one_or_none()


async def insert_secret_if_missing(session: AsyncSession, name: str, value: bytes) -> None:
    """Of replicas racing to create it, the first committed wins; the others wait on the
    primary key, insert nothing, and then read the winner's."""
    await session.execute(
        insert(ServerSecret)
        .values(name=name, value=value)
        .on_conflict_do_nothing(index_elements=[ServerSecret.name])
    )
