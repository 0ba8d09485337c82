"""Reading the resolved timeline: pages of workouts and health days, one workout explained.

Pages are keyset-paginated (timeline/paging.py), newest first, so a page costs
the same few indexed queries however deep the cursor is, and rows inserted
meanwhile never shift a page (an offset would repeat or skip them).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aurora_dedup.controls import repository as controls_repository
from aurora_dedup.health.repository import DaysPage
from aurora_dedup.health.schemas import DailyHealthItem
from aurora_dedup.health.service import daily_views
from aurora_dedup.resolution.priority import recording_source
from aurora_dedup.resolution.sports import ROOT, SPORT_PARENTS, lineage, normalize_sport
from aurora_dedup.timeline import paging, repository
from aurora_dedup.timeline.orm import CanonicalWorkout, SourceRecord
from aurora_dedup.timeline.schemas import (
    DuplicateDetail,
    DuplicateRef,
    FieldSource,
    Overlap,
    PrimaryRef,
    RecordFacts,
    TimelineItem,
    TimelinePage,
    WorkoutDetail,
)
from aurora_shared.errors import NotFoundError, ProblemError


def sports_under(sport: str) -> frozenset[str] | None:
    """The sport and every sport below it in the hierarchy; None for the root (all).

    Only sports of the vocabulary are filters: an unknown one is the client's error.
    """
    wanted = normalize_sport(sport)
    if wanted not in SPORT_PARENTS:
        raise ProblemError(422, f"unknown sport {sport!r}", known=sorted(SPORT_PARENTS))
    if wanted == ROOT:
        return None
    return frozenset(s for s in SPORT_PARENTS if wanted in lineage(s))


def _canonical_fields(row: CanonicalWorkout) -> dict[str, Any]:
    """The CanonicalFields of a row, shared by a list item and a detail."""
    return {
        "id": row.id,
        "sport": row.sport,
        "start": row.start_at,
        "end": row.end_at,
        "duration_s": row.duration_s,
        "metrics": row.metrics,
        "field_sources": {
            name: FieldSource.model_validate(ref) for name, ref in row.field_sources.items()
        },
    }


def _item(row: CanonicalWorkout, members: Sequence[SourceRecord]) -> TimelineItem:
    primary = next(m for m in members if m.id == row.primary_record_id)
    return TimelineItem(
        **_canonical_fields(row),
        primary=PrimaryRef(
            record_id=primary.id,
            source=primary.source,
            origin_device=primary.origin_device,
            recorded_by=recording_source(primary.source, primary.origin_device),
        ),
        duplicates=[
            DuplicateRef(
                record_id=m.id,
                source=m.source,
                origin_device=m.origin_device,
                reason=m.decision_reason or "",
            )
            for m in members
            if m.id != row.primary_record_id
        ],
        reason=row.reason,
        updated_at=row.updated_at,
    )


def _date_bounds(
    start_from: datetime | None, start_to: datetime | None
) -> tuple[date | None, date | None]:
    """The health days of a [from, to) window: every UTC date it touches."""
    first = None if start_from is None else start_from.astimezone(UTC).date()
    last = None
    if start_to is not None:
        end = start_to.astimezone(UTC)
        last = end.date() if end == paging.midnight(end.date()) else end.date() + timedelta(days=1)
    return first, last


async def timeline(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    start_from: datetime | None,
    start_to: datetime | None,
    sport: str | None = None,
    cursor: str | None = None,
    limit: int,
) -> TimelinePage:
    """Newest first, one page of workouts and the health days among them.

    Each stream gives at most limit + 1 items below the cursor, so the page's
    `limit` items are the newest of both; a sport filter leaves the days out.
    Three queries at most: canonicals, their members, the days.
    """
    below = paging.decode_cursor(cursor) if cursor else None
    sports = sports_under(sport) if sport else None
    rows = await repository.canonicals_page(
        session,
        user_id,
        start_from=start_from,
        start_to=start_to,
        sports=sports,
        before=None if below is None else paging.workouts_below(below),
        limit=limit + 1,
    )
    days: list[DailyHealthItem] = []
    if sport is None:
        date_from, date_to = _date_bounds(start_from, start_to)
        days = await daily_views(
            session,
            user_id,
            DaysPage(
                date_from=date_from,
                date_to=date_to,
                before=None if below is None else paging.days_below(below),
                limit=limit + 1,
            ),
        )
    merged: list[tuple[paging.Position, CanonicalWorkout | DailyHealthItem]] = [
        (paging.workout_position(row.start_at, row.id), row) for row in rows
    ]
    merged += [(paging.day_position(day.date), day) for day in days]
    merged.sort(key=lambda entry: entry[0], reverse=True)
    page = merged[:limit]
    workouts = [item for _, item in page if isinstance(item, CanonicalWorkout)]
    by_canonical: dict[uuid.UUID, list[SourceRecord]] = {row.id: [] for row in workouts}
    for member in await repository.members(session, user_id, by_canonical):
        if member.canonical_id is not None:
            by_canonical[member.canonical_id].append(member)
    return TimelinePage(
        items=[_item(row, by_canonical[row.id]) for row in workouts],
        days=[item for _, item in page if isinstance(item, DailyHealthItem)],
        next_cursor=paging.encode_cursor(page[-1][0]) if len(merged) > limit else None,
    )


def overlap_of(record: SourceRecord, primary: SourceRecord) -> Overlap:
    """Overlap in seconds, and as a fraction of the longer span (DESIGN.md §3)."""
    assert record.start_at and record.span_end_at and primary.start_at and primary.span_end_at
    seconds = max(
        0.0,
        (
            min(record.span_end_at, primary.span_end_at) - max(record.start_at, primary.start_at)
        ).total_seconds(),
    )
    longer = max(
        (record.span_end_at - record.start_at).total_seconds(),
        (primary.span_end_at - primary.start_at).total_seconds(),
    )
    return Overlap(seconds=seconds, fraction=round(seconds / longer, 4) if longer > 0 else 0.0)


def _facts(row: SourceRecord) -> dict[str, Any]:
    assert row.sport is not None and row.start_at is not None and row.duration_s is not None
    return {
        "record_id": row.id,
        "source": row.source,
        "external_id": row.external_id,
        "origin_device": row.origin_device,
        "recorded_by": recording_source(row.source, row.origin_device),
        "sport": row.sport,
        "start": row.start_at,
        "end": row.end_at,
        "duration_s": row.duration_s,
        "tz_offset_min": row.tz_offset_min,
    }


async def workout_detail(
    session: AsyncSession, user_id: uuid.UUID, canonical_id: uuid.UUID
) -> WorkoutDetail:
    row = await repository.canonical_of_user(session, user_id, canonical_id)
    if row is None:
        raise NotFoundError("workout")
    members = await repository.members(session, user_id, [row.id])
    primary = next(m for m in members if m.id == row.primary_record_id)
    duplicates = [
        DuplicateDetail(**_facts(m), reason=m.decision_reason or "", overlap=overlap_of(m, primary))
        for m in members
        if m.id != primary.id
    ]
    member_ids = {m.id for m in members}
    links = await controls_repository.links(session, user_id)
    return WorkoutDetail(
        **_canonical_fields(row),
        primary=RecordFacts(**_facts(primary)),
        duplicates=duplicates,
        reason=row.reason,
        explanation=[row.reason, *(d.reason for d in duplicates)],
        link_ids=[link.id for link in links if member_ids.intersection(link.record_ids)],
        updated_at=row.updated_at,
    )
