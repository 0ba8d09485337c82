"""Strava payload builders, shaped after the provider's documented examples.

Values are made up; the field names and shapes follow Strava's swagger examples
(DetailedActivity, SummaryActivity, Lap, StreamSet with key_by_type=true) and
the webhook events of developers.strava.com/docs/webhooks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from aurora_ingest.connections.models import Connection
from aurora_ingest.jobs.runner import run_due_jobs
from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.strava.jobs import HANDLERS

ATHLETE_ID = 134815
SUBSCRIPTION_ID = 120475
API = "https://www.strava.com/api/v3"
ACCESS_TOKEN = "strava-access-token"

Factory = Callable[..., Any]


def detailed_activity(**overrides: Any) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "id": 4242,
        "resource_state": 3,
        "external_id": "garmin_push_4242",
        "upload_id": 98765,
        "athlete": {"id": ATHLETE_ID, "resource_state": 1},
        "name": "Morning Ride",
        "distance": 28099.0,
        "moving_time": 4207,
        "elapsed_time": 4410,
        "total_elevation_gain": 516.0,
        "type": "Ride",
        "sport_type": "MountainBikeRide",
        "start_date": "2018-02-16T14:52:54Z",
        "start_date_local": "2018-02-16T06:52:54Z",
        "timezone": "(GMT-08:00) America/Los_Angeles",
        "utc_offset": -28800,
        "trainer": False,
        "commute": False,
        "manual": False,
        "private": False,
        "average_speed": 6.679,
        "max_speed": 18.5,
        "average_cadence": 78.5,
        "average_temp": 4,
        "average_watts": 185.5,
        "weighted_average_watts": 230,
        "kilojoules": 780.5,
        "device_watts": True,
        "has_heartrate": True,
        "average_heartrate": 140.3,
        "max_heartrate": 178,
        "max_watts": 743,
        "elev_high": 446.6,
        "elev_low": 17.2,
        "workout_type": 10,
        "calories": 870.2,
        "device_name": "Garmin Edge 530",
        "splits_metric": [
            {
                "distance": 1001.5,
                "elapsed_time": 141,
                "elevation_difference": 4.4,
                "moving_time": 141,
                "split": 1,
                "average_speed": 7.1,
                "pace_zone": 0,
            },
            {
                "distance": 412.3,
                "elapsed_time": 70,
                "elevation_difference": -1.0,
                "moving_time": 66,
                "split": 2,
                "average_speed": 5.9,
                "pace_zone": 0,
            },
        ],
        "laps": [
            {
                "id": 1,
                "resource_state": 2,
                "name": "Lap 1",
                "elapsed_time": 1573,
                "moving_time": 1569,
                "start_date": "2018-02-16T14:52:54Z",
                "start_date_local": "2018-02-16T06:52:54Z",
                "distance": 8046.72,
                "start_index": 0,
                "end_index": 1570,
                "total_elevation_gain": 276,
                "average_speed": 5.12,
                "max_speed": 9.5,
                "average_cadence": 78.6,
                "device_watts": True,
                "average_watts": 233.1,
                "lap_index": 1,
                "split": 1,
            },
            {
                "id": 2,
                "resource_state": 2,
                "name": "Lap 2",
                "elapsed_time": 2837,
                "moving_time": 2638,
                "start_date": "2018-02-16T15:19:07Z",
                "distance": 20052.28,
                "start_index": 1571,
                "end_index": 4409,
                "lap_index": 2,
                "split": 2,
            },
        ],
    }
    activity.update(overrides)
    return activity


def summary_activity(**overrides: Any) -> dict[str, Any]:
    detail = detailed_activity(**overrides)
    summary = {k: v for k, v in detail.items() if k not in ("laps", "splits_metric", "calories")}
    summary["resource_state"] = 2
    return summary


def streams(points: int = 5, **overrides: Any) -> dict[str, Any]:
    def stream(data: list[Any]) -> dict[str, Any]:
        return {
            "data": data,
            "series_type": "distance",
            "original_size": len(data),
            "resolution": "high",
        }

    keyed = {
        "time": stream(list(range(points))),
        "heartrate": stream([140 + i for i in range(points)]),
        "watts": stream([200 + i for i in range(points)]),
        "cadence": stream([90] * points),
        "velocity_smooth": stream([8.5] * points),
        "altitude": stream([100.0 + i / 10 for i in range(points)]),
        "distance": stream([8.5 * i for i in range(points)]),
        "latlng": stream([[37.83 + i / 1e4, -122.26] for i in range(points)]),
        "temp": stream([4] * points),
        "moving": stream([True] * points),
    }
    for name, data in overrides.items():
        if data is None:
            keyed.pop(name, None)
        else:
            keyed[name] = stream(data)
    return keyed


def webhook_event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "aspect_type": "create",
        "event_time": 1516126040,
        "object_id": 4242,
        "object_type": "activity",
        "owner_id": ATHLETE_ID,
        "subscription_id": SUBSCRIPTION_ID,
        "updates": {},
    }
    event.update(overrides)
    return event


@pytest.fixture
def make_activity() -> Factory:
    return detailed_activity


@pytest.fixture
def make_summary() -> Factory:
    return summary_activity


@pytest.fixture
def make_streams() -> Factory:
    return streams


@pytest.fixture
def make_event() -> Factory:
    return webhook_event


@pytest.fixture
async def connection(client: httpx.AsyncClient, kit: ProviderKit) -> Connection:
    """A live Strava connection of athlete ATHLETE_ID with a token valid for hours.

    Depends on `client` so the app (which truncates the schema on start) is up
    before the row is written; tests that post webhooks use that same app.
    """
    now = kit.clock()
    row = Connection(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        provider="strava",
        provider_user_id=str(ATHLETE_ID),
        scopes="read,activity:read_all",
        access_token_enc=kit.cipher.encrypt(ACCESS_TOKEN),
        refresh_token_enc=kit.cipher.encrypt("strava-refresh-token"),
        expires_at=now + timedelta(hours=6),
        status="active",
        connected_at=now - timedelta(days=1),
    )
    async with kit.sessions() as session, session.begin():
        session.add(row)
    return row


async def drain(kit: ProviderKit, handlers: Any = None) -> int:
    """Run due Strava jobs until none is due; how many ran."""
    total = 0
    for _ in range(1000):  # a handler that never stops rescheduling fails the test, not CI
        ran = await run_due_jobs(kit, handlers or {"strava": HANDLERS})
        if not ran:
            return total
        total += ran
    raise AssertionError("jobs kept coming back due")


@pytest.fixture
def run_jobs() -> Callable[..., Any]:
    return drain
