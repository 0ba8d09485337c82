"""Creating and moving grants; every change writes its event and its audit row.

The grant row, its `grant.changed` outbox row and its audit row share the
caller's transaction: none exists without the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_identity.audit import actions
from aurora_identity.audit.service import record
from aurora_identity.db import BUS, STREAM
from aurora_identity.grants import repository, rules
from aurora_identity.grants.models import Grant
from aurora_identity.grants.rules import Action, Direction
from aurora_identity.grants.schemas import GrantOut
from aurora_identity.users import repository as users
from aurora_identity.users.models import User
from aurora_identity.users.service import current_user
from aurora_shared.auth import Principal
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.errors import NotFoundError, ProblemError

PRODUCER = "identity"
_ACTION_AUDIT = {
    "accept": actions.GRANT_ACCEPTED,
    "decline": actions.GRANT_DECLINED,
    "revoke": actions.GRANT_REVOKED,
}


def to_out(grant: Grant, initiated_by_email: str | None) -> GrantOut:
    return GrantOut(
        id=grant.id,
        athlete_id=grant.athlete_id,
        coach_id=grant.coach_id,
        scopes=list(grant.scopes),
        status=grant.status,
        initiated_by=grant.initiated_by,
        initiated_by_email=initiated_by_email,
        created_at=grant.created_at,
        accepted_at=grant.accepted_at,
        revoked_at=grant.revoked_at,
        revoked_by=grant.revoked_by,
    )


async def _changed(
    session: AsyncSession,
    grant: Grant,
    *,
    actor: User,
    action: str,
    previous: str | None,
    at: datetime,
) -> None:
    """The event every service learns grants from, and the audit row, for one change."""
    event = new_event(
        "grant.changed",
        producer=PRODUCER,
        user_id=grant.athlete_id,
        occurred_at=at,
        payload={
            "grant_id": str(grant.id),
            "athlete_id": str(grant.athlete_id),
            "coach_id": str(grant.coach_id),
            "scopes": list(grant.scopes),
            "active": grant.status == "active",
            "changed_at": at.isoformat(),
            # Additive to DESIGN.md's minimum: consumers need only `active`.
            "status": grant.status,
        },
    )
    await enqueue(session, BUS.outbox, STREAM, event)
    counterpart = grant.coach_id if actor.id == grant.athlete_id else grant.athlete_id
    await record(
        session,
        action=action,
        actor_id=actor.id,
        actor_role=actor.role,
        actor_email=actor.email,
        subject_user_id=counterpart,
        resource=f"grant:{grant.id}",
        details={
            "athlete_id": grant.athlete_id,
            "coach_id": grant.coach_id,
            "scopes": list(grant.scopes),
            "from": previous,
            "to": grant.status,
        },
    )


async def _target(
    session: AsyncSession, email: str | None, user_id: uuid.UUID | None
) -> User | None:
    if user_id is not None:
        return await users.active_by_id(session, user_id)
    if email is None or "\x00" in email:  # PostgreSQL text cannot hold NUL: nobody matches
        return None
    return await users.active_by_email(session, email)


async def initiate(
    session: AsyncSession,
    principal: Principal,
    direction: Direction,
    *,
    email: str | None,
    user_id: uuid.UUID | None,
    scopes: Sequence[str],
) -> None:
    """Invite (athlete -> coach) or request (coach -> athlete); silent when ineligible.

    An unknown target, a target of the wrong role, oneself, and a pair that already
    has an open grant all end the same way as success, with nothing said.
    """
    me = await current_user(session, principal)
    if not rules.may_initiate(direction, me.role):
        who = "athletes invite coaches" if direction == "invitation" else "coaches request"
        raise ProblemError(403, f"only {who}")
    target = await _target(session, email, user_id)
    eligible = rules.target_eligible(
        direction, me.id, target.id if target else None, target.role if target else None
    )
    grant = None
    if eligible and target is not None:
        athlete, coach = (me, target) if direction == "invitation" else (target, me)
        grant = await repository.insert_if_no_open(
            session,
            athlete_id=athlete.id,
            coach_id=coach.id,
            scopes=rules.normalise_scopes(scopes),
            status=rules.initial_status(direction),
            initiated_by=me.id,
        )
    if grant is None:
        await record(
            session,
            action=f"grant.{direction}_ignored",
            actor_id=me.id,
            actor_role=me.role,
            actor_email=me.email,
            details={"target": "id" if user_id else "email"},
        )
        return
    action = actions.GRANT_INVITED if direction == "invitation" else actions.GRANT_REQUESTED
    await _changed(session, grant, actor=me, action=action, previous=None, at=grant.created_at)


async def act(
    session: AsyncSession, principal: Principal, grant_id: uuid.UUID, action: Action
) -> GrantOut:
    """Accept, decline or revoke. Someone else's grant is a 404, like a missing one."""
    me = await current_user(session, principal)
    grant = await repository.mine_for_update(session, grant_id, me.id)
    if grant is None:
        raise NotFoundError("grant")
    party = rules.party_of(me.id, grant.athlete_id, grant.coach_id)
    assert party is not None  # the query only finds grants `me` is a party of
    outcome = rules.transition(grant.status, action, party, me.role)
    if outcome.status is None:
        raise ProblemError(403 if outcome.refusal == "forbidden" else 409, outcome.reason)
    previous = grant.status
    now = datetime.now(UTC)
    await repository.set_status(session, grant, status=outcome.status, at=now, by=me.id)
    await _changed(
        session, grant, actor=me, action=_ACTION_AUDIT[action], previous=previous, at=now
    )
    return to_out(grant, await repository.email_of(session, grant.initiated_by))


async def get(session: AsyncSession, principal: Principal, grant_id: uuid.UUID) -> GrantOut:
    me = await current_user(session, principal)
    grant = await repository.mine(session, grant_id, me.id)
    if grant is None:
        raise NotFoundError("grant")
    return to_out(grant, await repository.email_of(session, grant.initiated_by))


def _cursor(grant: Grant) -> str:
    return f"{grant.created_at.isoformat()}_{grant.id}"


def parse_cursor(raw: str) -> tuple[datetime, uuid.UUID]:
    stamp, _, grant_id = raw.rpartition("_")
    try:
        moment = datetime.fromisoformat(stamp)
        parsed = uuid.UUID(grant_id)
    except ValueError as exc:
        raise ProblemError(422, "invalid cursor") from exc
    if moment.tzinfo is None:
        raise ProblemError(422, "invalid cursor")
    return moment, parsed


async def list_mine(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[GrantOut], str | None]:
    """Grants where I am the athlete or the coach, newest first."""
    me = await current_user(session, principal)
    after = parse_cursor(cursor) if cursor else None
    rows = await repository.page_for_user(session, me.id, status=status, after=after, limit=limit)
    items = [to_out(grant, email) for grant, email in rows]
    next_cursor = _cursor(rows[-1][0]) if len(rows) == limit else None
    return items, next_cursor


async def end_all_for_user(
    session: AsyncSession, user_id: uuid.UUID, *, actor: User | None = None
) -> int:
    """Revoke every open grant the user is a party of; returns how many.

    For account deletion, deactivation and role changes: a coach who is no longer
    a coach (or no longer here) must not keep seeing anyone. Each revocation emits
    `grant.changed` and writes an audit row like any other. Without `actor`, the
    revocation is recorded as the user's own.
    """
    grants = await repository.open_for_user_for_update(session, user_id)
    if not grants:
        return 0
    if actor is None:
        actor = await session.get(User, user_id)
    if actor is None:
        raise ValueError(f"no user {user_id}")
    now = datetime.now(UTC)
    for grant in grants:
        previous = grant.status
        await repository.set_status(session, grant, status="revoked", at=now, by=actor.id)
        await _changed(
            session, grant, actor=actor, action=actions.GRANT_REVOKED, previous=previous, at=now
        )
    return len(grants)
