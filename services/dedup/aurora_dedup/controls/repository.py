"""Queries of the controls tables. Only flushes; the caller's edge commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.controls.domain import (
    Domain,
    LinkDecision,
    Relation,
    WorkoutControls,
    as_relation,
)
from aurora_dedup.controls.orm import PriorityOverride, WorkoutLink


async def chosen_priorities(session: AsyncSession, user_id: uuid.UUID) -> dict[str, dict[str, int]]:
    """{domain: the athlete's choices} for the domains the athlete customised."""
    rows = await session.execute(
        select(PriorityOverride.domain, PriorityOverride.priorities).where(
            PriorityOverride.user_id == user_id
        )
    )
    return {domain: dict(priorities) for domain, priorities in rows}


async def set_priorities(
    session: AsyncSession,
    user_id: uuid.UUID,
    domain: Domain,
    priorities: dict[str, int],
    now: datetime,
) -> None:
    stmt = insert(PriorityOverride).values(
        user_id=user_id, domain=domain, priorities=priorities, updated_at=now
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[PriorityOverride.user_id, PriorityOverride.domain],
            set_={"priorities": stmt.excluded.priorities, "updated_at": stmt.excluded.updated_at},
        )
    )


async def reset_priorities(session: AsyncSession, user_id: uuid.UUID, domain: Domain) -> bool:
    """True when there was a choice to forget."""
    result = await session.execute(
        delete(PriorityOverride).where(
            PriorityOverride.user_id == user_id, PriorityOverride.domain == domain
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def links(session: AsyncSession, user_id: uuid.UUID) -> Sequence[WorkoutLink]:
    """The user's links, newest decision first."""
    stmt = (
        select(WorkoutLink).where(WorkoutLink.user_id == user_id).order_by(WorkoutLink.seq.desc())
    )
    return (await session.execute(stmt)).scalars().all()


async def workout_controls(session: AsyncSession, user_id: uuid.UUID) -> WorkoutControls:
    """The athlete's workout order and links, in one round trip.

    Asked on every resolution, so it is one statement: both tables are outer-joined
    to a one-row select, so the override (if any) rides along with every link row,
    and a user with neither gets a single row of NULLs.
    """
    one = select(literal(1).label("one")).subquery("one")
    stmt = (
        select(
            PriorityOverride.priorities,
            WorkoutLink.seq,
            WorkoutLink.relation,
            WorkoutLink.record_ids,
            WorkoutLink.anchor_id,
        )
        .select_from(one)
        .outerjoin(
            PriorityOverride,
            and_(PriorityOverride.user_id == user_id, PriorityOverride.domain == "workouts"),
        )
        .outerjoin(WorkoutLink, WorkoutLink.user_id == user_id)
    )
    priorities: dict[str, int] | None = None
    decisions: list[LinkDecision] = []
    for choice, seq, relation, record_ids, anchor in await session.execute(stmt):
        priorities = choice
        if seq is not None:
            decisions.append(LinkDecision(seq, as_relation(relation), tuple(record_ids), anchor))
    return WorkoutControls.of(priorities, decisions)


async def add_link(
    session: AsyncSession,
    user_id: uuid.UUID,
    relation: Relation,
    record_ids: Sequence[uuid.UUID],
    *,
    now: datetime,
    anchor: uuid.UUID | None = None,
) -> WorkoutLink:
    link = WorkoutLink(
        id=uuid.uuid4(),
        user_id=user_id,
        relation=relation,
        record_ids=sorted(set(record_ids)),
        anchor_id=anchor,
        created_at=now,
    )
    session.add(link)
    await session.flush()
    return link


async def link_of_user(
    session: AsyncSession, user_id: uuid.UUID, link_id: uuid.UUID
) -> WorkoutLink | None:
    result = await session.execute(
        select(WorkoutLink).where(WorkoutLink.id == link_id, WorkoutLink.user_id == user_id)
    )
    return result.scalar_one_or_none()
