"""The athlete's controls: changing a priority order or linking records re-resolves at once.

Every change holds the user's resolution lock (the one the event consumer takes),
so it and an arriving record see each other's result; it re-resolves what it
affects in the same transaction, and it leaves an audit record and a
`timeline.control.changed` event in that transaction's outbox. Controls are the
athlete's own: they act on the caller's data only (admins may view, never change).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.accounts.access import PRODUCER
from aurora_dedup.controls import repository
from aurora_dedup.controls.domain import (
    DOMAINS,
    Domain,
    LinkDecision,
    Relation,
    as_relation,
    effective_priorities,
    links_in_effect,
)
from aurora_dedup.controls.orm import WorkoutLink
from aurora_dedup.controls.schemas import (
    DomainPriorities,
    LinkOut,
    LinkPage,
    PrioritiesChanged,
    PrioritiesOut,
)
from aurora_dedup.db import BUS, STREAM
from aurora_dedup.health.service import reresolve_after_override
from aurora_dedup.registers import lock_user
from aurora_dedup.timeline import repository as timeline_repository
from aurora_dedup.timeline import resolver
from aurora_dedup.timeline.events import TIMELINE_CONTROL_CHANGED
from aurora_shared.access import AUDIT_STREAM, audit_recorded
from aurora_shared.bus.envelope import new_event
from aurora_shared.bus.outbox import enqueue
from aurora_shared.errors import NotFoundError, ProblemError
from aurora_shared.permissions import Actor

# Every resolution reads all of the user's links; this keeps that bounded.
MAX_LINKS_PER_USER: Final = 1000
log = logging.getLogger("aurora.dedup.controls")


async def _record_change(
    session: AsyncSession,
    actor: Actor,
    *,
    kind: str,
    resource: str,
    detail: dict[str, Any],
) -> None:
    """The audit record and the timeline event of one control change, in its transaction."""
    audit = audit_recorded(
        actor,
        producer=PRODUCER,
        action=f"timeline.{kind}",
        subject_user_id=actor.user_id,
        resource=resource,
        details=detail,
    )
    await enqueue(session, BUS.outbox, AUDIT_STREAM, audit)
    changed = new_event(
        TIMELINE_CONTROL_CHANGED,
        producer=PRODUCER,
        user_id=actor.user_id,
        payload={"user_id": str(actor.user_id), "kind": kind, "detail": detail},
    )
    await enqueue(session, BUS.outbox, STREAM, changed)
    log.info("timeline control changed", extra={"user_id": str(actor.user_id), "kind": kind})


# -- priorities ------------------------------------------------------------------------


def _domain_view(domain: Domain, chosen: dict[str, int] | None) -> DomainPriorities:
    return DomainPriorities(
        domain=domain,
        priorities=effective_priorities(domain, chosen),
        customized=dict(sorted((chosen or {}).items())),
    )


async def priorities(session: AsyncSession, user_id: uuid.UUID) -> PrioritiesOut:
    chosen = await repository.chosen_priorities(session, user_id)
    return PrioritiesOut(domains=[_domain_view(d, chosen.get(d)) for d in DOMAINS])


async def _apply_order(session: AsyncSession, user_id: uuid.UUID, domain: Domain) -> int:
    """Re-resolve what the domain's order decides; the number of workouts announced.

    A sleep or recovery order re-elects every health day of the user (its
    `health.resolved` events are the health domain's).
    """
    if domain == "workouts":
        outcome = await resolver.reresolve_user(session, user_id)
        return outcome.resolved + outcome.unresolved
    await reresolve_after_override(session, user_id, domain)
    return 0


async def _reorder(
    session: AsyncSession, actor: Actor, domain: Domain, kind: str, detail: dict[str, Any]
) -> int:
    """Re-resolve with the domain's new order and record the change; the workouts announced."""
    changed = await _apply_order(session, actor.user_id, domain)
    await _record_change(
        session,
        actor,
        kind=kind,
        resource=f"/priorities/{domain}",
        detail={"domain": domain, **detail, "workouts_changed": changed},
    )
    return changed


async def set_priorities(
    session: AsyncSession, actor: Actor, domain: Domain, chosen: dict[str, int]
) -> PrioritiesChanged:
    await lock_user(session, actor.user_id)
    ordered = dict(sorted(chosen.items()))
    await repository.set_priorities(session, actor.user_id, domain, ordered, datetime.now(UTC))
    changed = await _reorder(session, actor, domain, "priorities.set", {"priorities": ordered})
    return PrioritiesChanged(**_domain_view(domain, ordered).model_dump(), workouts_changed=changed)


async def reset_priorities(
    session: AsyncSession, actor: Actor, domain: Domain
) -> PrioritiesChanged:
    """Back to the defaults; resetting a domain already on them records nothing."""
    await lock_user(session, actor.user_id)
    changed = 0
    if await repository.reset_priorities(session, actor.user_id, domain):
        changed = await _reorder(session, actor, domain, "priorities.reset", {})
    return PrioritiesChanged(**_domain_view(domain, None).model_dump(), workouts_changed=changed)


# -- links -----------------------------------------------------------------------------


def _decision(link: WorkoutLink) -> LinkDecision:
    return LinkDecision(
        link.seq, as_relation(link.relation), tuple(link.record_ids), link.anchor_id
    )


def _link_out(link: WorkoutLink, in_effect: set[int]) -> LinkOut:
    return LinkOut(
        id=link.id,
        relation=as_relation(link.relation),
        record_ids=list(link.record_ids),
        anchor_id=link.anchor_id,
        created_at=link.created_at,
        in_effect=link.seq in in_effect,
    )


async def links(session: AsyncSession, user_id: uuid.UUID, limit: int) -> LinkPage:
    """Whether a link is in effect depends on every later one, so all are read."""
    rows = await repository.links(session, user_id)
    in_effect = links_in_effect(_decision(r) for r in rows)
    return LinkPage(items=[_link_out(r, in_effect) for r in rows[:limit]], more=len(rows) > limit)


async def _own_records(
    session: AsyncSession, user_id: uuid.UUID, record_ids: Sequence[uuid.UUID]
) -> None:
    """404 for any id that is not one of the caller's active records: another user's
    record, a removed one and an unknown id look the same."""
    found = await timeline_repository.records_of_user(session, user_id, record_ids)
    if len(found) != len(set(record_ids)):
        raise NotFoundError("record")


async def _link(
    session: AsyncSession,
    actor: Actor,
    relation: Relation,
    record_ids: Sequence[uuid.UUID],
    anchor: uuid.UUID | None = None,
) -> LinkOut:
    user_id = actor.user_id
    existing = await repository.links(session, user_id)
    if len(existing) >= MAX_LINKS_PER_USER:
        raise ProblemError(409, f"at most {MAX_LINKS_PER_USER} links; delete old ones first")
    link = await repository.add_link(
        session, user_id, relation, record_ids, now=datetime.now(UTC), anchor=anchor
    )
    outcome = await resolver.reresolve(session, user_id, (), (), link.record_ids)
    await _record_change(
        session,
        actor,
        kind="link.created",
        resource=f"/timeline/links/{link.id}",
        detail={
            "link_id": str(link.id),
            "relation": relation,
            "record_ids": [str(r) for r in link.record_ids],
            "anchor_id": None if anchor is None else str(anchor),
            "workouts_changed": outcome.resolved + outcome.unresolved,
        },
    )
    return _link_out(link, {link.seq})


async def create_link(
    session: AsyncSession, actor: Actor, relation: Relation, record_ids: Sequence[uuid.UUID]
) -> LinkOut:
    """ "These are the same" or "these are different sessions", over the caller's records."""
    await lock_user(session, actor.user_id)
    await _own_records(session, actor.user_id, record_ids)
    return await _link(session, actor, relation, record_ids)


async def detach_record(session: AsyncSession, actor: Actor, record_id: uuid.UUID) -> LinkOut:
    """Take a record out of its session: "apart" from every other record it is grouped with."""
    user_id = actor.user_id
    await lock_user(session, user_id)
    row = (await timeline_repository.records_of_user(session, user_id, [record_id])).get(record_id)
    if row is None:
        raise NotFoundError("record")
    assert row.canonical_id is not None  # an active record always belongs to a canonical
    group = await timeline_repository.members(session, user_id, [row.canonical_id])
    if len(group) < 2:
        raise ProblemError(409, "the record is already alone in its session")
    return await _link(session, actor, "apart", [m.id for m in group], anchor=record_id)


async def delete_link(session: AsyncSession, actor: Actor, link_id: uuid.UUID) -> None:
    """Withdraw a decision: an older link about the same pairs applies again."""
    user_id = actor.user_id
    await lock_user(session, user_id)
    link = await repository.link_of_user(session, user_id, link_id)
    if link is None:
        raise NotFoundError("link")
    record_ids = list(link.record_ids)
    relation = link.relation
    await session.delete(link)
    await session.flush()
    outcome = await resolver.reresolve(session, user_id, (), (), record_ids)
    await _record_change(
        session,
        actor,
        kind="link.deleted",
        resource=f"/timeline/links/{link_id}",
        detail={
            "link_id": str(link_id),
            "relation": relation,
            "record_ids": [str(r) for r in record_ids],
            "workouts_changed": outcome.resolved + outcome.unresolved,
        },
    )
