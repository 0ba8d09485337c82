"""Re-election on demand, reading, erasure, export and the database's own guarantees."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.accounts.orm import ACCOUNTS
from aurora_dedup.controls import repository as controls_repository
from aurora_dedup.health import service
from aurora_dedup.health.repository import DaysPage
from aurora_dedup.health.schemas import DailyHealthItem
from aurora_dedup.resolution.health import DEFAULT_HEALTH_PRIORITY

from ..timeline.factory import apply
from .factory import DAY, Health, days, outbox, records

Sessions = async_sessionmaker[AsyncSession]
WHOOP_FIRST = {"sleep": {**DEFAULT_HEALTH_PRIORITY, "whoop": 99}}


async def two_sources_three_days(sessions: Sessions, user: uuid.UUID) -> dict[str, Health]:
    made = {
        "oura": Health(user, source="oura", metrics={"asleep_s": 24000.0}),
        "whoop": Health(user, source="whoop", metrics={"asleep_s": 25000.0}),
        "recovery": Health(user, kind="recovery", metrics={"recovery_score": 70.0}),
        "nap": Health(user, source="whoop", hours=1, metrics={"nap": 1.0}),
        "before": Health(user, source="polar", day=DAY - timedelta(days=1)),
        "after": Health(user, source="garmin", day=DAY + timedelta(days=1)),
    }
    for seq, record in enumerate(made.values(), start=1):
        await apply(sessions, record.ingested(seq))
    return made


async def test_reresolve_with_an_override_changes_only_the_days_it_changes(
    sessions: Sessions,
) -> None:
    user = uuid.uuid4()
    made = await two_sources_three_days(sessions, user)
    emitted = len(await outbox(sessions))
    async with sessions() as session, session.begin():
        await service.reresolve_health(session, user, None, WHOOP_FIRST)
    events = (await outbox(sessions))[emitted:]
    (event,) = events
    assert event.payload["date"] == DAY.isoformat()
    assert event.payload["sleep"]["record_id"] == str(made["whoop"].record_id)
    assert event.payload["reasons"]["sleep"] == (
        "primary sleep: WHOOP sleep outranks Oura Ring sleep: priority 99 > 60"
    )
    assert (await records(sessions))[made["oura"].record_id].role == "duplicate"

    # The same order again, for a given date or for all: nothing changed, nothing said.
    async with sessions() as session, session.begin():
        await service.reresolve_health(session, user, [DAY], WHOOP_FIRST)
        await service.reresolve_health(session, user, None, WHOOP_FIRST)
        await service.reresolve_health(session, user, [DAY + timedelta(days=30)], WHOOP_FIRST)
    assert len(await outbox(sessions)) == emitted + 1

    # Back to the defaults.
    async with sessions() as session, session.begin():
        await service.reresolve_health(session, user, [DAY])
    last = (await outbox(sessions))[-1]
    assert last.payload["sleep"]["record_id"] == str(made["oura"].record_id)


async def test_handlers_elect_with_the_athletes_order(sessions: Sessions) -> None:
    user = uuid.uuid4()
    asked: list[uuid.UUID] = []

    async def whoop_first(session: AsyncSession, user_id: uuid.UUID) -> Any:
        asked.append(user_id)
        return WHOOP_FIRST

    handlers = service.handlers(whoop_first)
    oura, whoop = Health(user, source="oura"), Health(user, source="whoop")
    for event in (oura.ingested(1), whoop.ingested(2), oura.removed(3)):
        async with sessions() as session, session.begin():
            await handlers[event.type](session, event)
    assert asked == [user, user, user]
    assert (await days(sessions))[(user, DAY)].sleep_record_id == whoop.record_id


async def test_the_athletes_stored_order_rules_events_and_the_override_hook(
    sessions: Sessions,
) -> None:
    user = uuid.uuid4()
    oura, whoop = Health(user, source="oura"), Health(user, source="whoop")
    await apply(sessions, oura.ingested(1))
    await apply(sessions, whoop.ingested(2))
    assert (await days(sessions))[(user, DAY)].sleep_record_id == oura.record_id

    async with sessions() as session, session.begin():
        await controls_repository.set_priorities(
            session, user, "sleep", {"whoop": 99}, datetime.now(UTC)
        )
        assert await service.athlete_priorities(session, user) == {"sleep": {"whoop": 99}}
        await service.reresolve_after_override(session, user, "sleep")
    assert (await days(sessions))[(user, DAY)].sleep_record_id == whoop.record_id

    # A later event of the user is elected with the stored order, not the default.
    await apply(sessions, oura.ingested(3, metrics={"asleep_s": 1.0}))
    assert (await days(sessions))[(user, DAY)].sleep_record_id == whoop.record_id
    assert (await outbox(sessions))[-1].payload["sleep"]["record_id"] == str(whoop.record_id)


async def test_daily_views_newest_first_with_refs_and_reasons(sessions: Sessions) -> None:
    user, other = uuid.uuid4(), uuid.uuid4()
    made = await two_sources_three_days(sessions, user)
    await apply(sessions, Health(other, source="oura").ingested(20))

    async with sessions() as session:
        items = await service.daily_views(session, user, DaysPage(limit=10))
    assert [i.date for i in items] == [DAY + timedelta(days=1), DAY, DAY - timedelta(days=1)]
    item = items[1]
    assert item.sleep is not None and item.sleep.record_id == made["oura"].record_id
    assert (item.sleep.kind, item.sleep.source, item.sleep.recorded_by) == ("sleep", "oura", "oura")
    assert item.sleep.start == datetime(2024, 5, 1, 21, 30, tzinfo=UTC)
    assert item.recovery is not None and item.recovery.record_id == made["recovery"].record_id
    assert item.metrics == {"asleep_s": 24000.0, "recovery_score": 70.0}
    assert item.field_sources["asleep_s"].record_id == made["oura"].record_id
    assert {(d.record_id, d.role) for d in item.duplicates} == {
        (made["whoop"].record_id, "duplicate"),
        (made["nap"].record_id, "nap"),
    }
    assert item.reason.startswith("primary sleep: Oura Ring sleep outranks WHOOP sleep")
    dumped = item.model_dump()
    assert "fingerprint" not in dumped and "user_id" not in dumped
    with pytest.raises(ValueError, match="extra"):
        DailyHealthItem.model_validate({**dumped, "raw": {}})

    async with sessions() as session:
        window = await service.daily_views(
            session, user, DaysPage(date_from=DAY, date_to=DAY + timedelta(days=1), limit=10)
        )
        page = await service.daily_views(
            session, user, DaysPage(before=DAY + timedelta(days=1), limit=1)
        )
        nobody = await service.daily_views(session, uuid.uuid4(), DaysPage(limit=10))
    assert [i.date for i in window] == [DAY]
    assert [i.date for i in page] == [DAY]
    assert nobody == []


async def test_erase_and_export(sessions: Sessions) -> None:
    user, other = uuid.uuid4(), uuid.uuid4()
    made = await two_sources_three_days(sessions, user)
    await apply(sessions, made["before"].removed(30))
    await apply(sessions, Health(other).ingested(31))

    async with sessions() as session:
        exported_days = [d async for d in service.exported_health_days(session, user)]
        exported = [r async for r in service.exported_health_records(session, user)]
    assert [d.local_date for d in exported_days] == [DAY, DAY + timedelta(days=1)]
    assert exported_days[0].sleep_record_id == made["oura"].record_id
    assert len(exported) == len(made)
    tomb = next(r for r in exported if r.id == made["before"].record_id)
    assert (tomb.removed, tomb.metrics, tomb.local_date) == (True, None, None)

    async with sessions() as session, session.begin():
        erased = await service.erase_health_rows(session, user)
    assert erased == {"health_days": 2, "health_records": len(made)}
    assert set(await days(sessions)) == {(other, DAY)}
    assert {r.user_id for r in (await records(sessions)).values()} == {other}


async def test_events_of_a_deleted_user_are_dropped(sessions: Sessions) -> None:
    user = uuid.uuid4()
    sleep = Health(user)
    await apply(sessions, sleep.ingested(1))
    async with sessions() as session, session.begin():
        await session.execute(
            ACCOUNTS.blocked_users.insert().values(user_id=user, deleted_at=datetime.now(UTC))
        )
    await apply(sessions, Health(user, source="oura").ingested(2))
    await apply(sessions, sleep.removed(3))
    assert len(await records(sessions)) == 1
    assert (await days(sessions))[(user, DAY)].sleep_record_id == sleep.record_id
    assert len(await outbox(sessions)) == 1


BAD_ROWS: list[tuple[str, str]] = [
    ("a nap that is primary", "nap = true, role = 'primary'"),
    ("a nap that is not a sleep", "kind = 'recovery', nap = true, role = 'duplicate'"),
    ("an unknown kind", "kind = 'workout'"),
    ("an unknown role", "role = 'winner'"),
    ("a daily record elected", "kind = 'daily', role = 'primary'"),
    ("a sleep with a daily role", "role = 'daily'"),
    ("an active record without a day", "local_date = NULL"),
    ("an active record without a verdict", "role = NULL"),
    ("a tombstone with data", "removed = true"),
    ("an end before the start", "end_at = start_at - interval '1 hour'"),
]


@pytest.mark.parametrize(("what", "assignment"), BAD_ROWS, ids=[w for w, _ in BAD_ROWS])
async def test_the_database_refuses(sessions: Sessions, what: str, assignment: str) -> None:
    sleep = Health(uuid.uuid4())
    await apply(sessions, sleep.ingested(1))
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            await session.execute(
                text(f"UPDATE dedup.health_records SET {assignment} WHERE id = :id"),
                {"id": sleep.record_id},
            )


async def test_the_database_refuses_a_second_record_for_one_key(sessions: Sessions) -> None:
    sleep = Health(uuid.uuid4())
    await apply(sessions, sleep.ingested(1))
    with pytest.raises(IntegrityError, match="uq_health_records_user_source_external_id"):
        async with sessions() as session, session.begin():
            await session.execute(
                text(
                    "INSERT INTO dedup.health_records (id, user_id, source, external_id, kind,"
                    " removed, last_event_at, last_event_id)"
                    " SELECT :id, user_id, source, external_id, kind, true, now(), :id"
                    " FROM dedup.health_records"
                ),
                {"id": uuid.uuid4()},
            )


async def test_the_database_refuses_bad_days(sessions: Sessions) -> None:
    sleep = Health(uuid.uuid4())
    await apply(sessions, sleep.ingested(1))
    for assignment in (
        "recovery_record_id = sleep_record_id",
        "metrics = '[]'::jsonb",
        f"sleep_record_id = '{uuid.uuid4()}'",
    ):
        with pytest.raises(IntegrityError):
            async with sessions() as session, session.begin():
                await session.execute(text(f"UPDATE dedup.health_days SET {assignment}"))
