"""WHOOP payload builders and a connected athlete, shaped after WHOOP's v2 OpenAPI examples.

Values are made up; field names and shapes follow the WorkoutV2, Sleep,
Recovery, Cycle, collection and webhook schemas of developer.whoop.com.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import respx

from aurora_ingest.connections.models import Connection
from aurora_ingest.jobs.runner import run_due_jobs
from aurora_ingest.jobs.service import enqueue
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.whoop.jobs import HANDLERS
from aurora_ingest.whoop.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

API = "https://api.prod.whoop.com/developer"
SECRET = "whoop-secret"  # the test settings' whoop_client_secret
WHOOP_USER = 10129
WORKOUT_ID = "ecfc6a15-4661-442f-a9a4-f160dd7afae8"
SLEEP_ID = "123e4567-e89b-12d3-a456-426614174000"
NAP_ID = "7b0b2a58-8a2b-4a8e-9b1d-0d6c1c1f0a11"
CYCLE_ID = 93845


def workout(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": WORKOUT_ID,
        "v1_id": 1043,
        "user_id": WHOOP_USER,
        "created_at": "2022-04-24T11:25:44.774Z",
        "updated_at": "2022-04-24T14:25:44.774Z",
        "start": "2022-04-24T12:00:00.000Z",
        "end": "2022-04-24T13:00:00.000Z",
        "timezone_offset": "-05:00",
        "sport_name": "running",
        "score_state": "SCORED",
        "score": {
            "strain": 8.2463,
            "average_heart_rate": 123,
            "max_heart_rate": 146,
            "kilojoule": 1569.34033203125,
            "percent_recorded": 100.0,
            "distance_meter": 1772.77035916,
            "altitude_gain_meter": 46.64384460449,
            "altitude_change_meter": -0.781372010707855,
            "zone_durations": {
                "zone_zero_milli": 300000,
                "zone_one_milli": 600000,
                "zone_two_milli": 900000,
                "zone_three_milli": 900000,
                "zone_four_milli": 600000,
                "zone_five_milli": 300000,
            },
        },
        "sport_id": 0,
    }
    body.update(overrides)
    return body


def pending_workout(**overrides: Any) -> dict[str, Any]:
    body = workout(score_state="PENDING_SCORE", **overrides)
    body.pop("score")
    return body


def sleep(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": SLEEP_ID,
        "cycle_id": CYCLE_ID,
        "v1_id": 93845,
        "user_id": WHOOP_USER,
        "created_at": "2022-04-24T11:25:44.774Z",
        "updated_at": "2022-04-24T14:25:44.774Z",
        "start": "2022-04-24T02:25:44.774Z",
        "end": "2022-04-24T10:25:44.774Z",
        "timezone_offset": "-05:00",
        "nap": False,
        "score_state": "SCORED",
        "score": {
            "stage_summary": {
                "total_in_bed_time_milli": 30272735,
                "total_awake_time_milli": 1403507,
                "total_no_data_time_milli": 0,
                "total_light_sleep_time_milli": 14905851,
                "total_slow_wave_sleep_time_milli": 6630370,
                "total_rem_sleep_time_milli": 5879573,
                "sleep_cycle_count": 3,
                "disturbance_count": 12,
            },
            "sleep_needed": {
                "baseline_milli": 27395716,
                "need_from_sleep_debt_milli": 352230,
                "need_from_recent_strain_milli": 208595,
                "need_from_recent_nap_milli": -12312,
            },
            "respiratory_rate": 16.11328125,
            "sleep_performance_percentage": 98.0,
            "sleep_consistency_percentage": 90.0,
            "sleep_efficiency_percentage": 91.69533848,
        },
    }
    body.update(overrides)
    return body


def nap(**overrides: Any) -> dict[str, Any]:
    return sleep(
        id=NAP_ID,
        nap=True,
        start="2022-04-24T19:00:00.000Z",
        end="2022-04-24T19:40:00.000Z",
        **overrides,
    )


def recovery(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "cycle_id": CYCLE_ID,
        "sleep_id": SLEEP_ID,
        "user_id": WHOOP_USER,
        "created_at": "2022-04-24T11:25:44.774Z",
        "updated_at": "2022-04-24T14:25:44.774Z",
        "score_state": "SCORED",
        "score": {
            "user_calibrating": False,
            "recovery_score": 44.0,
            "resting_heart_rate": 64.0,
            "hrv_rmssd_milli": 31.813562,
            "spo2_percentage": 95.6875,
            "skin_temp_celsius": 33.7,
        },
    }
    body.update(overrides)
    return body


def cycle(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": CYCLE_ID,
        "user_id": WHOOP_USER,
        "created_at": "2022-04-24T11:25:44.774Z",
        "updated_at": "2022-04-24T14:25:44.774Z",
        "start": "2022-04-24T02:25:44.774Z",
        "end": "2022-04-25T03:10:00.000Z",
        "timezone_offset": "-05:00",
        "score_state": "SCORED",
        "score": {
            "strain": 5.2951527,
            "kilojoule": 8288.297,
            "average_heart_rate": 68,
            "max_heart_rate": 141,
        },
    }
    body.update(overrides)
    return body


def unscored(body: dict[str, Any], state: str = "PENDING_SCORE") -> dict[str, Any]:
    copied = copy.deepcopy(body)
    copied["score_state"] = state
    copied.pop("score", None)
    return copied


def page(records: list[dict[str, Any]], next_token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"records": records}
    if next_token is not None:
        body["next_token"] = next_token
    return body


def event(kind: str = "workout.updated", object_id: Any = WORKOUT_ID, **overrides: Any) -> bytes:
    """A v2 webhook body exactly as WHOOP would send it (compact JSON)."""
    body: dict[str, Any] = {
        "user_id": WHOOP_USER,
        "id": object_id,
        "type": kind,
        "trace_id": "e369c784-5100-49e8-8098-75d35c47b31b",
    }
    body.update(overrides)
    return json.dumps(body, separators=(",", ":")).encode()


def signed_headers(
    body: bytes, *, at_ms: int | None = None, secret: str = SECRET
) -> dict[str, str]:
    stamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(body, stamp, secret),
    }


@dataclass(frozen=True)
class Athlete:
    user_id: uuid.UUID
    connection_id: uuid.UUID


async def connect(
    kit: ProviderKit, *, whoop_user: int = WHOOP_USER, status: str = "active"
) -> Athlete:
    """A WHOOP connection with a token valid for hours (no refresh on the way)."""
    now = datetime.now(UTC)
    row = Connection(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        provider="whoop",
        provider_user_id=str(whoop_user),
        scopes="offline read:workout read:sleep read:recovery read:cycles read:profile",
        access_token_enc=kit.cipher.encrypt("whoop-access-token"),
        refresh_token_enc=kit.cipher.encrypt("whoop-refresh-token"),
        expires_at=now + timedelta(hours=6),
        status=status,
    )
    async with kit.sessions() as session, session.begin():
        session.add(row)
    return Athlete(user_id=row.user_id, connection_id=row.id)


@pytest.fixture
async def athlete(kit: ProviderKit) -> Athlete:
    return await connect(kit)


async def drain(kit: ProviderKit) -> int:
    """Run due WHOOP jobs until none is left (a guard stops a job that keeps coming back)."""
    total = 0
    for _ in range(20):
        ran = await run_due_jobs(kit, {"whoop": HANDLERS})
        if not ran:
            return total
        total += ran
    raise AssertionError("jobs keep coming")


async def queue(kit: ProviderKit, athlete: Any, kind: str, object_id: str, **payload: Any) -> None:
    async with kit.sessions() as session, session.begin():
        await enqueue(
            session,
            provider="whoop",
            kind=kind,
            key=f"{athlete.user_id}:{object_id}",
            user_id=athlete.user_id,
            connection_id=athlete.connection_id,
            payload={"id": object_id, **payload},
        )


def mock_day(
    respx_mock: respx.MockRouter,
    w: Any,
    *,
    cycle: Any = None,
    recovery: Any = None,
    sleep: Any = None,
) -> None:
    """WHOOP's answers about one cycle; None means 404 for the recovery and sleep."""
    base = f"{w.API}/v2/cycle/{w.CYCLE_ID}"
    respx_mock.get(f"{w.API}/v2/cycle").respond(json=w.page([cycle or w.cycle()]))
    respx_mock.get(base).respond(json=cycle or w.cycle())
    respx_mock.get(f"{base}/recovery").respond(*((200,) if recovery else (404,)), json=recovery)
    respx_mock.get(f"{base}/sleep").respond(*((200,) if sleep else (404,)), json=sleep)


async def records(db: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    rows = await db.fetch(
        "SELECT external_id, kind, sport, metrics::text AS metrics, details::text AS details,"
        " local_date, deleted_at, revision, raw_payload_id, origin_device FROM ingest.records"
    )
    return {row["external_id"]: row for row in rows}


async def events(db: asyncpg.Connection) -> list[tuple[str, dict[str, Any]]]:
    rows = await db.fetch("SELECT event_type, envelope FROM ingest.outbox ORDER BY id")
    return [(row["event_type"], json.loads(row["envelope"])["payload"]) for row in rows]


async def jobs(db: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT kind, key, status, attempts, not_before, payload::text AS payload, last_error"
        " FROM ingest.provider_jobs ORDER BY created_at"
    )
    return rows


class Payloads:
    """The builders and constants above, handed to tests as the `w` fixture."""

    API = API
    SECRET = SECRET
    WHOOP_USER = WHOOP_USER
    WORKOUT_ID = WORKOUT_ID
    SLEEP_ID = SLEEP_ID
    NAP_ID = NAP_ID
    CYCLE_ID = CYCLE_ID
    workout = staticmethod(workout)
    pending_workout = staticmethod(pending_workout)
    sleep = staticmethod(sleep)
    nap = staticmethod(nap)
    recovery = staticmethod(recovery)
    cycle = staticmethod(cycle)
    unscored = staticmethod(unscored)
    page = staticmethod(page)
    event = staticmethod(event)
    signed_headers = staticmethod(signed_headers)
    connect = staticmethod(connect)
    drain = staticmethod(drain)
    queue = staticmethod(queue)
    mock_day = staticmethod(mock_day)
    records = staticmethod(records)
    events = staticmethod(events)
    jobs = staticmethod(jobs)


@pytest.fixture
def w() -> type[Payloads]:
    return Payloads
