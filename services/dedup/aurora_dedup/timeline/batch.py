"""Applying a read batch of workout events at once, as the bus consumer hands it over.

The per-event handlers (service.py) cost about eleven statements per event, most of
them the same questions asked again for the next event: the user's lock, whether
the user is gone, the record's row, the athlete's controls, the closure, the
canonicals. Here each is asked once for the whole batch, and the register rules
run in memory in stream order, so stale, duplicate and out-of-order events inside
the batch are handled exactly as one transaction per event would handle them.

Only each record's state before the batch and after it matter to the resolution:
the states in between were never stored, so no placement or canonical refers to
them. Re-resolving the union of the old and new windows of every touched record,
and the canonicals they left, therefore gives the final state the per-event path
gives (A12: the resolution is a function of the set of active records). What
differs is only the number of events announced: a canonical that changes twice
within one batch is announced once, with its final content.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic

from sqlalchemy import Text, and_, any_, bindparam, func, select, union
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup import registers
from aurora_dedup.controls.domain import LinkDecision, WorkoutControls, as_relation
from aurora_dedup.controls.orm import PriorityOverride, WorkoutLink
from aurora_dedup.registers import Claim, ContractViolationError, P, R, Version
from aurora_dedup.timeline import repository, resolver
from aurora_dedup.timeline.events import (
    WORKOUT_INGESTED,
    WORKOUT_REMOVED,
    WorkoutIngested,
    WorkoutRemoved,
)
from aurora_dedup.timeline.orm import SourceRecord
from aurora_dedup.timeline.repository import Window
from aurora_dedup.timeline.service import bury, placement_before, window_of, write_ingested
from aurora_shared.bus.envelope import Envelope

log = logging.getLogger("aurora.dedup.timeline")
_FRESH = {"is_primary": False}
_UUIDS = ARRAY(UUID(as_uuid=True))
_TEXTS = ARRAY(Text)


@dataclass
class Change:
    """What one user's part of the batch leaves to re-resolve."""

    windows: list[Window] = field(default_factory=list)
    canonical_ids: set[uuid.UUID] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Pending(Generic[P]):
    """One event of a batch, parsed and versioned, before its register is looked at."""

    event: Envelope
    user_id: uuid.UUID
    payload: P
    version: Version


@dataclass
class BatchClaims(Generic[P, R]):
    """The registers a batch names, loaded and locked; `claim` applies the register
    rules to one event at a time, against the state the batch's earlier events left."""

    model: type[R]
    log: logging.Logger
    fixed: tuple[str, ...]
    fresh: Mapping[str, object]
    pending: list[Pending[P]]
    by_id: dict[uuid.UUID, R] = field(default_factory=dict)
    by_key: dict[tuple[uuid.UUID, str, str], R] = field(default_factory=dict)
    loaded: set[uuid.UUID] = field(default_factory=set)

    def was_stored(self, row: R) -> bool:
        """Whether the row existed before the batch (its stored placement needs redoing)."""
        return row.id in self.loaded

    def claim(self, session: AsyncSession, item: Pending[P]) -> Claim[P, R] | None:
        payload, user_id = item.payload, item.user_id
        fixed_values = {name: getattr(payload, name) for name in self.fixed}
        key = (user_id, str(payload.source), payload.external_id)
        row = self.by_id.get(payload.record_id)
        clash = self.by_key.get(key)
        if clash is not None and clash.id != payload.record_id:
            raise ContractViolationError(
                f"({payload.source}, {payload.external_id}) already belongs to record"
                f" {clash.id}, not {payload.record_id}"
            )
        if row is not None and (
            (row.user_id, row.source, row.external_id) != key
            or any(getattr(row, name) != value for name, value in fixed_values.items())
        ):
            what = registers.either(["owner", "key", *fixed_values])
            raise ContractViolationError(f"record {payload.record_id} changed its {what}")
        if row is None:
            row = self.model(
                id=payload.record_id,
                user_id=user_id,
                source=payload.source,
                external_id=payload.external_id,
                **fixed_values,
                **self.fresh,
            )
            session.add(row)
            self.by_id[row.id] = row
            self.by_key[key] = row
            return Claim(payload, row, True, item.version)
        if registers.is_stale(row, item.version, item.event, self.log):
            return None
        return Claim(payload, row, False, item.version)


def _named_rows(
    model: type[R], ids: Sequence[uuid.UUID], keys: Sequence[tuple[uuid.UUID, str, str]]
) -> Any:
    """The ids of the rows the events name by id or by ingest's key: arrays, not one
    parameter per value (a batch may name more values than a statement takes), and a
    union, so each half is an index lookup and the rows are joined on their key."""
    users, sources, externals = zip(*keys, strict=True)
    wanted = (
        func.unnest(
            bindparam("k_users", list(users), _UUIDS),
            bindparam("k_sources", list(sources), _TEXTS),
            bindparam("k_externals", list(externals), _TEXTS),
        )
        .table_valued("u", "s", "e", name="wanted")
        .render_derived()
    )
    by_key = select(model.id).join(
        wanted,
        and_(
            model.user_id == wanted.c.u,
            model.source == wanted.c.s,
            model.external_id == wanted.c.e,
        ),
    )
    by_id = select(func.unnest(bindparam("k_ids", sorted(set(ids)), _UUIDS)))
    return union(by_id, by_key)


async def claim_batch(
    session: AsyncSession,
    model: type[R],
    events: Sequence[Envelope],
    parse: Callable[[Envelope], P],
    *,
    log: logging.Logger,
    fixed: tuple[str, ...] = (),
    fresh: Mapping[str, object] | None = None,
) -> BatchClaims[P, R]:
    """Parse every event (a malformed one fails the batch, and the consumer then
    isolates it), lock the users, drop the gone users' events and load their rows."""
    parsed: list[Pending[P]] = []
    for event in events:
        payload = parse(event)
        parsed.append(
            Pending(
                event,
                registers.user_of(event),
                payload,
                registers.version_of(event, payload.revision),
            )
        )
    users = {p.user_id for p in parsed}
    await registers.lock_users(session, users)
    gone = await registers.blocked_among(session, users)
    for p in parsed:
        if p.user_id in gone:
            log.info(
                "event of a deleted user dropped",
                extra={"event_id": str(p.event.id), "event_type": p.event.type},
            )
    live = [p for p in parsed if p.user_id not in gone]
    batch: BatchClaims[P, R] = BatchClaims(model, log, fixed, dict(fresh or {}), live)
    if not live:
        return batch
    keys = sorted({(p.user_id, str(p.payload.source), p.payload.external_id) for p in live})
    stmt = (
        select(model)
        .where(model.id.in_(_named_rows(model, [p.payload.record_id for p in live], keys)))
        .with_for_update(of=model)
    )
    for row in (await session.execute(stmt)).scalars():
        batch.by_id[row.id] = row
        batch.by_key[(row.user_id, row.source, row.external_id)] = row
        batch.loaded.add(row.id)
    return batch


def _parse(event: Envelope) -> WorkoutIngested | WorkoutRemoved:
    if event.type == WORKOUT_INGESTED:
        return WorkoutIngested.model_validate(event.payload)
    if event.type == WORKOUT_REMOVED:
        return WorkoutRemoved.model_validate(event.payload)
    raise ContractViolationError(f"{event.type} {event.id} is no workout event")


async def apply_workout_batch(session: AsyncSession, events: list[Envelope]) -> None:
    """`workout.ingested` and `workout.removed` events, in stream order, in one go."""
    claims = await claim_batch(session, SourceRecord, events, _parse, log=log, fresh=_FRESH)
    touched: dict[uuid.UUID, SourceRecord] = {}
    changes: dict[uuid.UUID, Change] = {}
    for item in claims.pending:
        claim = claims.claim(session, item)
        if claim is None:
            continue
        row = claim.row
        if row.id not in touched:
            touched[row.id] = row
            if claims.was_stored(row):  # where it stood before the batch needs redoing
                windows, canonical_ids = placement_before(row)
                change = changes.setdefault(row.user_id, Change())
                change.windows += windows
                change.canonical_ids |= canonical_ids
        if isinstance(claim.payload, WorkoutIngested):
            write_ingested(row, claim.payload, claim.version)
        else:
            bury(row, claim.version)
    if not touched:
        return
    await session.flush()
    for row in touched.values():
        window = window_of(row)
        if window is not None:
            changes.setdefault(row.user_id, Change()).windows.append(window)
    await reresolve_many(session, changes)
    log.info(
        "workout batch applied",
        extra={"events": len(events), "records": len(touched), "users": len(changes)},
    )


async def reresolve_many(
    session: AsyncSession, changes: dict[uuid.UUID, Change]
) -> resolver.Resolution:
    """`resolver.reresolve` for every user of a batch, each step one statement."""
    if not changes:
        return resolver.Resolution(0, 0, 0, 0)
    controls = await workout_controls_of(session, changes.keys())
    closed = await repository.active_closure_many(
        session,
        {user: change.windows for user, change in changes.items()},
        {cid for change in changes.values() for cid in change.canonical_ids},
        partners={user: c.same_partners() for user, c in controls.items()},
    )
    scopes = [
        resolver.Scope(user, closed[user], change.canonical_ids, controls[user])
        for user, change in sorted(changes.items())
    ]
    return await resolver.rewrite_many(session, scopes)


async def workout_controls_of(
    session: AsyncSession, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, WorkoutControls]:
    """`controls.repository.workout_controls` for many users, in two statements."""
    users = sorted(set(user_ids))
    chosen: dict[uuid.UUID, dict[str, int]] = {}
    overrides = select(PriorityOverride.user_id, PriorityOverride.priorities).where(
        PriorityOverride.user_id == any_(bindparam("c_users", users, _UUIDS)),
        PriorityOverride.domain == "workouts",
    )
    for user, priorities in await session.execute(overrides):
        chosen[user] = priorities
    decisions: dict[uuid.UUID, list[LinkDecision]] = {}
    links = select(
        WorkoutLink.user_id,
        WorkoutLink.seq,
        WorkoutLink.relation,
        WorkoutLink.record_ids,
        WorkoutLink.anchor_id,
    ).where(WorkoutLink.user_id == any_(bindparam("c_users", users, _UUIDS)))
    for user, seq, relation, record_ids, anchor in await session.execute(links):
        decisions.setdefault(user, []).append(
            LinkDecision(seq, as_relation(relation), tuple(record_ids), anchor)
        )
    return {u: WorkoutControls.of(chosen.get(u), decisions.get(u, [])) for u in users}
