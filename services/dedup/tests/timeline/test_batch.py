"""The batch path (timeline/batch.py) ends where one transaction per event ends.

Two users' histories (the ordering test's one, with updates, removals, a removal
before its ingest, a re-ingest and a record moved out of its group, plus a second
user's) are shuffled, some events repeated, and delivered once event by event and
once in batches of random sizes, each batch in one transaction as the consumer runs
it. Both must leave the same rows, the same canonicals and, for every canonical,
the same last `workout.resolved` payload.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_dedup.accounts.orm import MIRROR
from aurora_dedup.consumers import subscriptions
from aurora_dedup.registers import ContractViolationError
from aurora_dedup.timeline.batch import apply_workout_batch
from aurora_dedup.timeline.events import INGEST_STREAM, WORKOUT_INGESTED, WORKOUT_REMOVED
from aurora_shared.bus.envelope import Envelope

from .factory import Workout, apply, garmin_and_whoop, queued, records
from .state import assert_invariants, snapshot
from .test_ordering import HISTORY, PROPERTY_SETTINGS, _fresh

Sessions = async_sessionmaker[AsyncSession]
OTHER = uuid.UUID("00000000-0000-4000-8000-00000000b0b0")
OG, OW = garmin_and_whoop(OTHER)
ORUN = Workout(OTHER, source="strava", sport="run", start_min=90, minutes=30)
OTHER_HISTORY: list[Envelope] = [
    OG.ingested(1),
    OW.ingested(2),
    ORUN.ingested(3),
    OG.ingested(4, minutes=70),
    OW.removed(5),
    ORUN.ingested(6, start_min=30),  # moves into the ride's span
]
EVENTS = HISTORY + OTHER_HISTORY


async def _apply_batch(sessions: Sessions, events: list[Envelope]) -> None:
    async with sessions() as session, session.begin():
        await apply_workout_batch(session, events)


def _chunks(events: list[Envelope], sizes: list[int]) -> list[list[Envelope]]:
    chunks: list[list[Envelope]] = []
    rest = list(events)
    for size in sizes:
        if not rest:
            break
        chunks.append(rest[:size])
        rest = rest[size:]
    if rest:
        chunks.append(rest)
    return chunks


async def _last_announcements(sessions: Sessions) -> dict[str, tuple[str, dict[str, Any]]]:
    """{canonical id: (type, payload)} of the last event queued about each canonical."""
    last: dict[str, tuple[str, dict[str, Any]]] = {}
    for _stream, event in await queued(sessions):
        last[event.payload["canonical_id"]] = (event.type, event.payload)
    return last


async def _outcome(sessions: Sessions) -> tuple[Any, dict[str, dict[str, Any]], set[str]]:
    await assert_invariants(sessions)
    last = await _last_announcements(sessions)
    resolved = {cid: p for cid, (t, p) in last.items() if t == "workout.resolved"}
    unresolved = {cid for cid, (t, _) in last.items() if t != "workout.resolved"}
    return await snapshot(sessions), resolved, unresolved


@PROPERTY_SETTINGS
@given(
    order=st.permutations(EVENTS),
    again=st.lists(st.tuples(st.sampled_from(EVENTS), st.integers(0, len(EVENTS))), max_size=4),
    sizes=st.lists(st.integers(1, len(EVENTS)), min_size=1, max_size=6),
)
async def test_batches_end_where_events_one_by_one_end(
    order: list[Envelope],
    again: list[tuple[Envelope, int]],
    sizes: list[int],
    engine: AsyncEngine,
    migrated: str,
) -> None:
    stream = list(order)
    for event, position in sorted(again, key=lambda x: -x[1]):
        stream.insert(position, event)

    sessions = await _fresh(engine, migrated)
    for event in stream:
        await apply(sessions, event)
    one_by_one = await _outcome(sessions)

    sessions = await _fresh(engine, migrated)
    for chunk in _chunks(stream, sizes):
        await _apply_batch(sessions, chunk)
    batched = await _outcome(sessions)

    assert batched[0] == one_by_one[0], "same source rows and canonicals"
    assert batched[1] == one_by_one[1], "same last workout.resolved per canonical"
    # A canonical born and withdrawn inside one batch was never stored nor announced.
    assert batched[2] <= one_by_one[2]
    assert {c[0] for c in one_by_one[0][1]} == {uuid.UUID(c) for c in one_by_one[1]}


async def test_a_batch_takes_the_newest_event_of_each_record(
    engine: AsyncEngine, migrated: str
) -> None:
    """Out of order, repeated and stale events inside one batch, as one by one."""
    sessions = await _fresh(engine, migrated)
    newest = OG.ingested(4, minutes=70)
    await _apply_batch(sessions, [newest, OG.ingested(1), newest, OW.removed(5), OW.ingested(2)])
    rows = await records(sessions)
    assert rows[OG.record_id].version == (4, newest.occurred_at, newest.id)
    assert rows[OG.record_id].duration_s == 70 * 60
    assert rows[OW.record_id].removed
    assert rows[OG.record_id].is_primary
    assert [e.type for _, e in await queued(sessions)] == ["workout.resolved"]


async def test_a_deleted_users_events_are_dropped_and_the_others_applied(
    engine: AsyncEngine, migrated: str
) -> None:
    sessions = await _fresh(engine, migrated)
    async with sessions() as session, session.begin():
        await session.execute(
            insert(MIRROR.tables.blocked_users).values(user_id=OTHER, deleted_at=datetime.now(UTC))
        )
    await _apply_batch(sessions, [*OTHER_HISTORY[:3], *HISTORY[:3]])
    rows = await records(sessions)
    assert {r.user_id for r in rows.values()} == {HISTORY[0].user_id}
    assert len(rows) == 3


async def test_a_key_taken_by_another_record_fails_the_whole_batch(
    engine: AsyncEngine, migrated: str
) -> None:
    """The consumer then retries event by event and dead-letters only the culprit."""
    sessions = await _fresh(engine, migrated)
    twin = Workout(OTHER, source=OG.source, external_id=OG.external_id)
    with pytest.raises(ContractViolationError, match="already belongs to record"):
        await _apply_batch(sessions, [OG.ingested(1), OW.ingested(2), twin.ingested(3)])
    assert await records(sessions) == {}


def test_the_worker_batches_workout_events() -> None:
    ingest = next(s for s in subscriptions() if s.stream == INGEST_STREAM)
    assert ingest.batch_handlers == {
        WORKOUT_INGESTED: apply_workout_batch,
        WORKOUT_REMOVED: apply_workout_batch,
    }
