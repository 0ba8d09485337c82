"""Queries of the timeline tables. Only flushes; the caller's edge commits."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    any_,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    tuple_,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, TIMESTAMP, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.timeline.orm import CanonicalWorkout, SourceRecord

Window = tuple[datetime, datetime]
_TICK = timedelta(microseconds=1)


def merge_windows(windows: Iterable[Window]) -> list[Window]:
    merged: list[Window] = []
    for lo, hi in sorted(windows):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def uncovered(spans: Iterable[Window], covered: list[Window]) -> list[Window]:
    """The parts of `spans` outside the `covered` windows (merged, sorted), a tick wider.

    Records overlapping a covered window were found already; only these parts
    can hold new ones. The tick keeps a record that touches a boundary exactly.
    """
    out: list[Window] = []
    for lo, hi in merge_windows(spans):
        cursor = lo
        for c_lo, c_hi in covered:
            if c_hi <= cursor or c_lo >= hi:
                continue
            if c_lo > cursor:
                out.append((cursor - _TICK, c_lo + _TICK))
            cursor = max(cursor, c_hi)
        if cursor < hi:
            out.append((cursor - _TICK, hi + _TICK))
    return merge_windows(out)


def _overlaps(row: SourceRecord, windows: list[Window]) -> bool:
    if row.start_at is None or row.span_end_at is None:
        return False
    return any(row.start_at < hi and row.span_end_at > lo for lo, hi in windows)


async def active_closure(
    session: AsyncSession,
    user_id: uuid.UUID,
    windows: Iterable[Window],
    canonical_ids: Iterable[uuid.UUID],
    *,
    record_ids: Iterable[uuid.UUID] = (),
    partners: Mapping[uuid.UUID, Collection[uuid.UUID]] | None = None,
) -> dict[uuid.UUID, SourceRecord]:
    """The user's active records in the windows, closed under overlap, shared canonicals
    and the athlete's "same" links (`partners`).

    A group is a chain of records that overlap or that the athlete merged, so
    resolving a set closed under those relations gives exactly the groups a
    resolution of all the user's records would give for those records.

    Each round is one query, and it brings the records in the windows together
    with every other member of their canonicals; a next round only runs when a
    record found reaches outside the windows already searched, or a link or an
    unseen canonical leads elsewhere, so an ingest usually costs one round.
    """
    partners = partners or {}
    found: dict[uuid.UUID, SourceRecord] = {}
    seen_canonicals: set[uuid.UUID] = set()
    asked_ids: set[uuid.UUID] = set()
    covered: list[Window] = []
    pending_windows = merge_windows(windows)
    pending_canonicals = set(canonical_ids)
    pending_ids = set(record_ids)
    mine = and_(SourceRecord.user_id == user_id, SourceRecord.removed == false())
    while pending_windows or pending_canonicals or pending_ids:
        seen_canonicals |= pending_canonicals
        asked_ids |= pending_ids
        in_windows = [
            and_(SourceRecord.start_at < hi, SourceRecord.span_end_at > lo)
            for lo, hi in pending_windows
        ]
        conditions = list(in_windows)
        if in_windows:
            their_canonicals = select(SourceRecord.canonical_id).where(
                mine, SourceRecord.canonical_id.is_not(None), or_(*in_windows)
            )
            conditions.append(SourceRecord.canonical_id.in_(their_canonicals))
        if pending_canonicals:
            conditions.append(SourceRecord.canonical_id.in_(pending_canonicals))
        if pending_ids:
            conditions.append(SourceRecord.id.in_(pending_ids))
        stmt = select(SourceRecord).where(mine, or_(*conditions))
        if found:
            stmt = stmt.where(SourceRecord.id.not_in(found.keys()))
        fresh = list((await session.execute(stmt)).scalars())
        for row in fresh:
            found[row.id] = row
            if row.canonical_id is not None and _overlaps(row, pending_windows):
                seen_canonicals.add(row.canonical_id)  # its members came in this round
        covered = merge_windows([*covered, *pending_windows])
        pending_windows = uncovered(
            (
                (row.start_at, row.span_end_at)
                for row in fresh
                if row.start_at is not None and row.span_end_at is not None
            ),
            covered,
        )
        pending_canonicals = {
            row.canonical_id for row in fresh if row.canonical_id is not None
        } - seen_canonicals
        pending_ids = (
            {partner for row in fresh for partner in partners.get(row.id, ())}
            - asked_ids
            - found.keys()
        )
    return found


UserWindows = Mapping[uuid.UUID, Iterable[Window]]
_UUIDS = ARRAY(UUID(as_uuid=True))
_TIMES = ARRAY(TIMESTAMP(timezone=True))


def _ids_in_round(
    windows: Mapping[uuid.UUID, list[Window]],
    canonical_ids: Collection[uuid.UUID],
    record_ids: Collection[uuid.UUID],
) -> Any:
    """The ids of one closure round, each branch driven by an index: records in a
    user's windows (user, span), the other members of their canonicals, the members
    of canonicals asked for, and records asked for by id."""
    branches: list[Any] = []
    active = SourceRecord.removed == false()
    flat = [(user, lo, hi) for user, spans in windows.items() for lo, hi in spans]
    if flat:
        users, los, his = zip(*flat, strict=True)
        win = (
            func.unnest(
                bindparam("w_users", list(users), _UUIDS),
                bindparam("w_los", list(los), _TIMES),
                bindparam("w_his", list(his), _TIMES),
            )
            .table_valued("u", "lo", "hi", name="win")
            .render_derived()
        )
        in_windows = and_(
            SourceRecord.user_id == win.c.u,
            SourceRecord.start_at < win.c.hi,
            SourceRecord.span_end_at > win.c.lo,
            active,
        )
        branches.append(select(SourceRecord.id).join(win, in_windows))
        their_canonicals = (
            select(SourceRecord.canonical_id)
            .join(win, in_windows)
            .where(SourceRecord.canonical_id.is_not(None))
        )
        branches.append(
            select(SourceRecord.id).where(SourceRecord.canonical_id.in_(their_canonicals))
        )
    if canonical_ids:
        wanted = bindparam("w_canonicals", sorted(canonical_ids), _UUIDS)
        branches.append(select(SourceRecord.id).where(SourceRecord.canonical_id == any_(wanted)))
    if record_ids:
        wanted = bindparam("w_records", sorted(record_ids), _UUIDS)
        branches.append(select(SourceRecord.id).where(SourceRecord.id == any_(wanted)))
    return union(*branches) if len(branches) > 1 else branches[0]


async def active_closure_many(
    session: AsyncSession,
    windows: UserWindows,
    canonical_ids: Iterable[uuid.UUID],
    *,
    partners: Mapping[uuid.UUID, Mapping[uuid.UUID, Collection[uuid.UUID]]] | None = None,
) -> dict[uuid.UUID, dict[uuid.UUID, SourceRecord]]:
    """`active_closure` for many users at once: {user: their closed set of records}.

    The rounds are the same, each one statement for every user still growing; a
    record only ever joins its own user's set, so the sets are those `active_closure`
    gives each user alone (canonicals and links never span users).
    """
    partners = partners or {}
    users = set(windows)
    found: dict[uuid.UUID, SourceRecord] = {}
    seen_canonicals: set[uuid.UUID] = set()
    asked_ids: set[uuid.UUID] = set()
    covered: dict[uuid.UUID, list[Window]] = {}
    pending_windows = {u: merge_windows(w) for u, w in windows.items()}
    pending_canonicals = set(canonical_ids)
    pending_ids: set[uuid.UUID] = set()
    while any(pending_windows.values()) or pending_canonicals or pending_ids:
        seen_canonicals |= pending_canonicals
        asked_ids |= pending_ids
        ids = _ids_in_round(pending_windows, pending_canonicals, pending_ids)
        stmt = select(SourceRecord).where(
            SourceRecord.id.in_(ids),
            SourceRecord.removed == false(),
            SourceRecord.user_id == any_(bindparam("w_mine", sorted(users), _UUIDS)),
        )
        fresh = [row for row in (await session.execute(stmt)).scalars() if row.id not in found]
        for row in fresh:
            found[row.id] = row
            if row.canonical_id is not None and _overlaps(
                row, pending_windows.get(row.user_id, [])
            ):
                seen_canonicals.add(row.canonical_id)  # its members came in this round
        spans: dict[uuid.UUID, list[Window]] = {}
        for row in fresh:
            if row.start_at is not None and row.span_end_at is not None:
                spans.setdefault(row.user_id, []).append((row.start_at, row.span_end_at))
        for user, searched in pending_windows.items():
            covered[user] = merge_windows([*covered.get(user, []), *searched])
        pending_windows = {
            user: uncovered(user_spans, covered.get(user, [])) for user, user_spans in spans.items()
        }
        pending_canonicals = {
            row.canonical_id for row in fresh if row.canonical_id is not None
        } - seen_canonicals
        pending_ids = (
            {partner for row in fresh for partner in partners.get(row.user_id, {}).get(row.id, ())}
            - asked_ids
            - found.keys()
        )
    closed: dict[uuid.UUID, dict[uuid.UUID, SourceRecord]] = {u: {} for u in users}
    for row in found.values():
        closed[row.user_id][row.id] = row
    return closed


async def all_active(session: AsyncSession, user_id: uuid.UUID) -> dict[uuid.UUID, SourceRecord]:
    stmt = select(SourceRecord).where(
        SourceRecord.user_id == user_id, SourceRecord.removed == false()
    )
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def records_of_user(
    session: AsyncSession, user_id: uuid.UUID, record_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, SourceRecord]:
    """The user's active records among the ids; another user's or a removed one is absent."""
    wanted = set(record_ids)
    if not wanted:
        return {}
    stmt = select(SourceRecord).where(
        SourceRecord.user_id == user_id,
        SourceRecord.removed == false(),
        SourceRecord.id.in_(wanted),
    )
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def canonical_ids_of_user(session: AsyncSession, user_id: uuid.UUID) -> set[uuid.UUID]:
    stmt = select(CanonicalWorkout.id).where(CanonicalWorkout.user_id == user_id)
    return set((await session.execute(stmt)).scalars())


async def canonicals(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, CanonicalWorkout]:
    wanted = set(ids)
    if not wanted:
        return {}
    result = await session.execute(select(CanonicalWorkout).where(CanonicalWorkout.id.in_(wanted)))
    return {row.id: row for row in result.scalars()}


async def place_records(session: AsyncSession, placements: Sequence[dict[str, Any]]) -> None:
    """Each record's (canonical_id, is_primary, duplicate_of, decision_reason), one executemany.

    Every row carries the same four columns, so it is a single batched statement
    however many records a re-resolution moves.
    """
    if not placements:
        return
    table = cast(Table, SourceRecord.__table__)
    stmt = (
        update(table)
        .where(table.c.id == bindparam("record_id"))
        .values(
            canonical_id=bindparam("canonical_id"),
            is_primary=bindparam("is_primary"),
            duplicate_of=bindparam("duplicate_of"),
            decision_reason=bindparam("decision_reason"),
        )
    )
    rows = [{**{k: v for k, v in p.items() if k != "id"}, "record_id": p["id"]} for p in placements]
    await session.execute(stmt, rows)


async def delete_canonicals(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    if ids:
        await session.execute(delete(CanonicalWorkout).where(CanonicalWorkout.id.in_(ids)))


async def canonicals_page(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    start_from: datetime | None,
    start_to: datetime | None,
    sports: Collection[str] | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[CanonicalWorkout]:
    """Newest first by (start, id): keyset paging, `before` being the last row seen."""
    stmt = select(CanonicalWorkout).where(CanonicalWorkout.user_id == user_id)
    if start_from is not None:
        stmt = stmt.where(CanonicalWorkout.start_at >= start_from)
    if start_to is not None:
        stmt = stmt.where(CanonicalWorkout.start_at < start_to)
    if sports is not None:
        stmt = stmt.where(CanonicalWorkout.sport.in_(sports))
    if before is not None:
        stmt = stmt.where(tuple_(CanonicalWorkout.start_at, CanonicalWorkout.id) < before)
    stmt = stmt.order_by(CanonicalWorkout.start_at.desc(), CanonicalWorkout.id.desc()).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def canonical_of_user(
    session: AsyncSession, user_id: uuid.UUID, canonical_id: uuid.UUID
) -> CanonicalWorkout | None:
    result = await session.execute(
        select(CanonicalWorkout).where(
            CanonicalWorkout.id == canonical_id, CanonicalWorkout.user_id == user_id
        )
    )
    return result.scalar_one_or_none()


async def members(
    session: AsyncSession, user_id: uuid.UUID, canonical_ids: Iterable[uuid.UUID]
) -> Sequence[SourceRecord]:
    wanted = set(canonical_ids)
    if not wanted:
        return []
    stmt = (
        select(SourceRecord)
        .where(SourceRecord.user_id == user_id, SourceRecord.canonical_id.in_(wanted))
        .order_by(SourceRecord.source, SourceRecord.external_id, SourceRecord.id)
    )
    return (await session.execute(stmt)).scalars().all()
