"""Ingest's health events through dedup's handlers: records, elected days, outbox."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import timedelta
from typing import cast

import pytest
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.db import BUS
from aurora_dedup.health import days as health_days
from aurora_dedup.health import service
from aurora_dedup.publishing import fingerprint
from aurora_dedup.registers import ContractViolationError
from aurora_shared.bus.consumer import StreamConsumer, errors_key
from aurora_shared.bus.envelope import Envelope
from aurora_shared.config import BusSettings

from ..timeline.factory import apply, envelope
from .factory import DAY, Health, days, outbox, records

Sessions = async_sessionmaker[AsyncSession]


async def test_one_sleep_makes_a_day_and_one_event_in_one_commit(sessions: Sessions) -> None:
    user = uuid.uuid4()
    sleep = Health(user, metrics={"nap": 0.0, "asleep_s": 26000.0, "respiratory_rate": None})
    await apply(sessions, sleep.ingested(1))

    row = (await records(sessions))[sleep.record_id]
    assert (row.kind, row.local_date, row.nap, row.removed) == ("sleep", DAY, False, False)
    assert (row.role, row.decision_reason) == (
        "primary",
        "primary sleep: the only sleep of the day",
    )
    day = (await days(sessions))[(user, DAY)]
    assert (day.sleep_record_id, day.recovery_record_id) == (sleep.record_id, None)
    assert day.metrics == {"asleep_s": 26000.0}
    assert day.field_sources == {
        "asleep_s": {"record_id": str(sleep.record_id), "source": "whoop", "kind": "sleep"}
    }

    (event,) = await outbox(sessions)
    assert (event.type, event.producer, event.user_id) == ("health.resolved", "dedup", user)
    payload = event.payload
    assert (payload["date"], payload["removed"], payload["user_id"]) == (
        "2024-05-02",
        False,
        str(user),
    )
    assert payload["sleep"]["record_id"] == str(sleep.record_id)
    assert payload["sleep"]["recorded_by"] == "whoop"
    assert payload["sleep"]["start"] == "2024-05-01T21:30:00+00:00"
    assert payload["sleep"]["tz_offset_min"] == 120
    assert payload["recovery"] is None
    assert payload["duplicate_record_ids"] == []
    assert payload["metrics"] == {"asleep_s": 26000.0}
    assert payload["reasons"] == {
        "sleep": "primary sleep: the only sleep of the day",
        "recovery": None,
    }
    assert payload["reason"] == "primary sleep: the only sleep of the day; no recovery"
    assert [r["role"] for r in payload["records"]] == ["primary"]
    assert day.updated_at == event.occurred_at
    assert day.fingerprint == fingerprint(payload)


async def test_oura_takes_the_night_from_whoop_retroactively(sessions: Sessions) -> None:
    user = uuid.uuid4()
    whoop = Health(user, source="whoop", metrics={"asleep_s": 25000.0, "sleep_need_s": 30000.0})
    oura = Health(user, source="oura", hours=7.5, metrics={"asleep_s": 24000.0})
    await apply(sessions, whoop.ingested(1))
    await apply(sessions, oura.ingested(2))

    rows = await records(sessions)
    assert rows[oura.record_id].role == "primary"
    assert rows[whoop.record_id].role == "duplicate"
    assert rows[whoop.record_id].decision_reason == (
        f"duplicate of {oura.record_id}: Oura Ring sleep outranks WHOOP sleep: priority 60 > 50"
    )
    day = (await days(sessions))[(user, DAY)]
    assert day.sleep_record_id == oura.record_id
    assert day.metrics == {"asleep_s": 24000.0}

    first, second = await outbox(sessions)
    assert first.payload["sleep"]["record_id"] == str(whoop.record_id)
    assert second.payload["sleep"]["record_id"] == str(oura.record_id)
    assert second.payload["duplicate_record_ids"] == [str(whoop.record_id)]
    assert second.payload["reasons"]["sleep"] == (
        "primary sleep: Oura Ring sleep outranks WHOOP sleep: priority 60 > 50"
    )
    assert second.occurred_at > first.occurred_at


@pytest.mark.parametrize(
    ("metrics", "details"),
    [({"nap": 1.0, "asleep_s": 2000.0}, {}), ({"asleep_s": 2000.0}, {"nap": True})],
)
async def test_a_nap_is_kept_but_never_the_days_sleep(
    sessions: Sessions, metrics: dict[str, float], details: dict[str, bool]
) -> None:
    user = uuid.uuid4()
    nap = Health(user, source="oura", hours=0.7, metrics=metrics, details=details)
    await apply(sessions, nap.ingested(1))
    row = (await records(sessions))[nap.record_id]
    assert (row.nap, row.role) == (True, "nap")
    day = (await days(sessions))[(user, DAY)]
    assert (day.sleep_record_id, day.metrics) == (None, {})
    assert day.reason.startswith("no primary sleep: only naps")

    night = Health(user, source="polar", metrics={"asleep_s": 25000.0})
    await apply(sessions, night.ingested(2))
    day = (await days(sessions))[(user, DAY)]
    assert day.sleep_record_id == night.record_id
    last = (await outbox(sessions))[-1]
    assert last.payload["duplicate_record_ids"] == [str(nap.record_id)]
    roles = {r["record_id"]: (r["role"], r["reason"]) for r in last.payload["records"]}
    assert roles[str(nap.record_id)] == ("nap", "nap: a nap never counts as the day's sleep")


async def test_whoop_sleep_recovery_and_cycle_merge_into_one_view(sessions: Sessions) -> None:
    user = uuid.uuid4()
    sleep = Health(user, metrics={"nap": 0.0, "asleep_s": 25200.0, "respiratory_rate": 15.0})
    recovery = Health(
        user, kind="recovery", hours=24, metrics={"recovery_score": 64.0, "resting_hr": 51.0}
    )
    cycle = Health(
        user,
        kind="daily",
        hours=24,
        metrics={"day_strain": 11.2, "recovery_score": 64.0, "asleep_s": 25200.0},
    )
    for seq, record in enumerate((cycle, sleep, recovery), start=1):
        await apply(sessions, record.ingested(seq))

    day = (await days(sessions))[(user, DAY)]
    assert (day.sleep_record_id, day.recovery_record_id) == (sleep.record_id, recovery.record_id)
    assert day.metrics == {
        "asleep_s": 25200.0,
        "respiratory_rate": 15.0,
        "recovery_score": 64.0,
        "resting_hr": 51.0,
        "day_strain": 11.2,
    }
    assert {k: v["kind"] for k, v in day.field_sources.items()} == {
        "asleep_s": "sleep",
        "respiratory_rate": "sleep",
        "recovery_score": "recovery",
        "resting_hr": "recovery",
        "day_strain": "daily",
    }
    assert (await records(sessions))[cycle.record_id].role == "daily"
    assert len(await days(sessions)) == 1
    assert len(await outbox(sessions)) == 3


async def test_redelivery_and_stale_revisions_change_nothing(sessions: Sessions) -> None:
    user = uuid.uuid4()
    sleep = Health(user)
    event = sleep.ingested(5)
    await apply(sessions, event)
    await apply(sessions, event)  # the same event again
    await apply(sessions, sleep.ingested(3, metrics={"asleep_s": 1.0}))  # an older revision
    row = (await records(sessions))[sleep.record_id]
    assert (row.last_revision, row.last_event_id, row.metrics) == (
        5,
        event.id,
        {"asleep_s": 26000.0},
    )
    assert len(await outbox(sessions)) == 1


async def test_a_newer_revision_with_the_same_content_emits_nothing(sessions: Sessions) -> None:
    user = uuid.uuid4()
    sleep = Health(user)
    await apply(sessions, sleep.ingested(1))
    await apply(sessions, sleep.ingested(2))
    assert (await records(sessions))[sleep.record_id].last_revision == 2
    assert len(await outbox(sessions)) == 1


async def test_a_change_hidden_by_higher_ranked_fields_emits_nothing(sessions: Sessions) -> None:
    user = uuid.uuid4()
    recovery = Health(user, source="whoop", kind="recovery", metrics={"resting_hr": 50.0})
    vitals = Health(user, source="apple_health", kind="daily", metrics={"resting_hr": 55.0})
    await apply(sessions, recovery.ingested(1))
    await apply(sessions, vitals.ingested(2))
    assert len(await outbox(sessions)) == 2
    await apply(sessions, vitals.ingested(3, metrics={"resting_hr": 57.0}))
    assert len(await outbox(sessions)) == 2
    assert (await records(sessions))[vitals.record_id].metrics == {"resting_hr": 57.0}
    assert (await days(sessions))[(user, DAY)].metrics == {"resting_hr": 50.0}


async def test_removal_re_elects_and_a_lost_day_is_announced_removed(sessions: Sessions) -> None:
    user = uuid.uuid4()
    whoop = Health(user, source="whoop")
    oura = Health(user, source="oura", metrics={"asleep_s": 24000.0})
    await apply(sessions, whoop.ingested(1))
    await apply(sessions, oura.ingested(2))
    await apply(sessions, oura.removed(3))

    rows = await records(sessions)
    tomb = rows[oura.record_id]
    assert (tomb.removed, tomb.metrics, tomb.local_date, tomb.role) == (True, None, None, None)
    assert tomb.decision_reason == "removed by its source"
    assert rows[whoop.record_id].role == "primary"
    day = (await days(sessions))[(user, DAY)]
    assert day.sleep_record_id == whoop.record_id
    assert (await outbox(sessions))[-1].payload["sleep"]["record_id"] == str(whoop.record_id)

    await apply(sessions, whoop.removed(4))
    assert await days(sessions) == {}
    gone = (await outbox(sessions))[-1]
    assert gone.type == "health.resolved"
    assert gone.payload == health_days.removed_payload(user, DAY)
    assert gone.payload["removed"] is True
    # Removing again (redelivered, or a newer removal) announces nothing more.
    await apply(sessions, whoop.removed(5))
    assert len(await outbox(sessions)) == 4


async def test_a_removal_before_its_ingest_buries_it(sessions: Sessions) -> None:
    user = uuid.uuid4()
    sleep = Health(user)
    await apply(sessions, sleep.removed(2))
    await apply(sessions, sleep.ingested(1))
    row = (await records(sessions))[sleep.record_id]
    assert (row.removed, row.kind, row.last_revision) == (True, "sleep", 2)
    assert await days(sessions) == {}
    assert await outbox(sessions) == []
    await apply(sessions, sleep.ingested(3))  # re-created upstream with a newer revision
    assert (await days(sessions))[(user, DAY)].sleep_record_id == sleep.record_id


async def test_a_record_moving_to_another_day_re_elects_both(sessions: Sessions) -> None:
    user = uuid.uuid4()
    sleep = Health(user)
    await apply(sessions, sleep.ingested(1))
    later = DAY + timedelta(days=1)
    await apply(sessions, sleep.ingested(2, day=later))
    assert set(await days(sessions)) == {(user, later)}
    _, removed, moved = await outbox(sessions)
    assert (removed.payload["date"], removed.payload["removed"]) == (DAY.isoformat(), True)
    assert (moved.payload["date"], moved.payload["removed"]) == (later.isoformat(), False)


async def test_users_are_elected_apart(sessions: Sessions) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    mine = Health(alice, source="whoop")
    theirs = Health(bob, source="oura")
    await apply(sessions, mine.ingested(1))
    await apply(sessions, theirs.ingested(2))
    stored = await days(sessions)
    assert stored[(alice, DAY)].sleep_record_id == mine.record_id
    assert stored[(bob, DAY)].sleep_record_id == theirs.record_id


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "workout"},
        {"kind": None},
        {"date": "2024-02-30"},
        {"date": None},
        {"source": "fitbit"},
        {"external_id": ""},
        {"start": "2024-05-01T21:30:00"},
        {"end": "2024-05-01T20:00:00Z"},
        {"metrics": ["asleep_s"]},
        {"record_id": "not-a-uuid"},
        {"tz_offset_min": 100_000},
    ],
)
async def test_a_malformed_payload_is_a_contract_violation(
    sessions: Sessions, change: dict[str, object]
) -> None:
    sleep = Health(uuid.uuid4())
    event = sleep.ingested(1)
    broken = event.model_copy(update={"payload": {**event.payload, **change}})
    with pytest.raises(ContractViolationError):
        await apply(sessions, broken)
    assert await records(sessions) == {}
    assert await outbox(sessions) == []


async def test_contract_violations_of_identity(sessions: Sessions) -> None:
    user = uuid.uuid4()
    sleep = Health(user)
    await apply(sessions, sleep.ingested(1))
    with pytest.raises(ContractViolationError, match="no user_id"):
        await apply(sessions, sleep.ingested(2).model_copy(update={"user_id": None}))
    with pytest.raises(ContractViolationError, match="already belongs"):
        await apply(sessions, Health(user, external_id=sleep.external_id).ingested(3))
    with pytest.raises(ContractViolationError, match="owner, key or kind"):
        await apply(sessions, sleep.ingested(4, kind="recovery"))
    with pytest.raises(ContractViolationError, match="owner, key or kind"):
        await apply(sessions, Health(uuid.uuid4(), record_id=sleep.record_id).ingested(5))
    removal = envelope(
        "health.removed", user, {"record_id": str(sleep.record_id), "source": "whoop"}, 6
    )
    with pytest.raises(ContractViolationError):
        await apply(sessions, removal)
    assert len(await outbox(sessions)) == 1


async def test_a_failure_before_the_event_rolls_back_the_state(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_enqueue(*args: object, **kwargs: object) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(health_days, "enqueue", broken_enqueue)
    with pytest.raises(RuntimeError):
        await apply(sessions, Health(uuid.uuid4()).ingested(1))
    assert await records(sessions) == {}
    assert await days(sessions) == {}


async def test_through_a_real_stream_consumer(sessions: Sessions, redis: Redis) -> None:
    consumer = StreamConsumer(
        redis=redis,
        sessionmaker=sessions,
        inbox=BUS.inbox,
        stream="ingest.records",
        group="dedup",
        consumer="test-1",
        handlers=service.handlers(),
        settings=BusSettings(consumer_block_ms=50),
        service="dedup",
    )
    await consumer.ensure_group()
    sleep = Health(uuid.uuid4())
    event = sleep.ingested(1)
    malformed = envelope("health.ingested", sleep.user_id, {"record_id": "x"}, 2)
    for item in (event, event, malformed):  # the relay published the first one twice
        await redis.xadd("ingest.records", _fields(item))
    assert await consumer.read_new() == 3

    assert len(await outbox(sessions)) == 1
    assert len(await records(sessions)) == 1
    # The malformed one stays pending with its error, on its way to the dead letters.
    pending = await redis.xpending("ingest.records", "dedup")
    assert pending["pending"] == 1
    errors = await cast(Awaitable[list[str]], redis.hvals(errors_key("ingest.records", "dedup")))
    assert [e.startswith("ContractViolationError") for e in errors] == [True]


def _fields(event: Envelope) -> dict[FieldT, EncodableT]:
    return {"event_id": str(event.id), "type": event.type, "event": event.model_dump_json()}
