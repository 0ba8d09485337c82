"""Every Strava fixture of ../shared/fixtures/strava through the normalisers (when present).

Each file is classified by name; a new fixture nobody classified fails the test
instead of being skipped silently. Files that are not ingestion shapes (OAuth
answers, the swagger document, zones, the athlete profile) are listed as such.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aurora_ingest.records.rules import SPORTS, samples_problem
from aurora_ingest.strava.errors import MappingError
from aurora_ingest.strava.mapping import map_laps, summary_of, workout_fields
from aurora_ingest.strava.streams import samples_from_streams
from aurora_ingest.strava.webhooks import Challenge, deauthorized, parse_event

FIXTURES = Path("/work/shared/fixtures/strava")
pytestmark = pytest.mark.skipif(not FIXTURES.exists(), reason="shared Strava fixtures absent")

ACTIVITIES = {
    "swagger_example_detailed_activity.json",
    "stravalib_real_detailed_activity_run_2013.json",
    "stravalib_real_detailed_activity_manual.json",
    "swagger_example_create_activity_201.json",
}
STREAMS = {"reconstructed_streamset_key_by_type.json", "reconstructed_streamset_array.json"}
NOT_INGESTED = {
    "docs_oauth_token_exchange_response.json",  # connections (OAuth), not mapping
    "docs_oauth_token_refresh_response.json",
    "docs_webhook_subscription_create_response.json",  # operator's one-off setup call
    "strava_swagger.json",
    "stravalib_activity_zones.json",
    "swagger_example_athlete_zones.json",
    "swagger_example_detailed_athlete.json",
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def names() -> list[str]:
    return sorted(p.name for p in FIXTURES.glob("*.json")) if FIXTURES.exists() else []


def test_every_fixture_is_classified() -> None:
    handled = (
        ACTIVITIES
        | STREAMS
        | NOT_INGESTED
        | {
            "swagger_example_summary_activities.json",
            "swagger_example_activity_laps.json",
            "swagger_example_activity_streams.json",
            "docs_webhook_subscription_validation.json",
        }
    )
    webhooks = {n for n in names() if n.startswith("docs_webhook_event_")}
    assert webhooks, "the webhook event fixtures are expected"
    assert set(names()) - webhooks - handled == set()


@pytest.mark.parametrize("name", sorted(ACTIVITIES))
def test_activities_map(name: str) -> None:
    activity = load(name)
    fields = workout_fields(activity)
    assert fields.sport in SPORTS
    assert fields.start_at.tzinfo == UTC
    assert fields.end_at is not None and fields.end_at > fields.start_at
    assert fields.duration_s == float(activity["elapsed_time"])
    assert fields.details["provider_sport"] == activity.get("sport_type", activity["type"])
    if activity.get("manual"):
        assert fields.origin_device == "manual"
    json.dumps(fields.details)  # JSON-ready


def test_detailed_example_specifics() -> None:
    fields = workout_fields(load("swagger_example_detailed_activity.json"))
    assert fields.sport == "mountain_bike"
    assert fields.origin_device == "Garmin Edge 1030"
    assert fields.tz_offset_min == -480
    assert fields.details["laps"][0]["start_offset_s"] == 0.0
    assert fields.details["splits_metric"][0]["distance_m"] == 1001.5


def test_real_2013_run_without_utc_offset_or_sport_type() -> None:
    fields = workout_fields(load("stravalib_real_detailed_activity_run_2013.json"))
    assert fields.sport == "run"
    assert fields.tz_offset_min == -480  # from start_date_local - start_date
    splits = fields.details["splits_metric"]
    assert splits[-1]["distance_m"] < 1000  # the partial last kilometre, as reported
    assert fields.start_at == datetime(2013, 12, 12, 19, 36, 41, tzinfo=UTC)


def test_manual_hike() -> None:
    fields = workout_fields(load("stravalib_real_detailed_activity_manual.json"))
    assert (fields.sport, fields.origin_device) == ("hike", "manual")


def test_summaries() -> None:
    summaries = [summary_of(item) for item in load("swagger_example_summary_activities.json")]
    assert [s.athlete_id for s in summaries] == ["134815", "167560"]
    assert all(s.needs_fetch(None) for s in summaries)


def test_laps() -> None:
    laps = load("swagger_example_activity_laps.json")
    mapped = map_laps(laps, datetime(2018, 2, 8, 14, 13, 37, tzinfo=UTC))
    assert mapped[0]["start_offset_s"] == 0.0
    assert mapped[0]["distance_m"] == 8046.72


def test_stream_sets_in_both_forms_agree() -> None:
    keyed = samples_from_streams(load("reconstructed_streamset_key_by_type.json"))
    array = samples_from_streams(load("reconstructed_streamset_array.json"))
    assert keyed is not None and keyed == array
    assert samples_problem(keyed) is None
    assert len(keyed["t"]) == 600
    assert {"hr", "power", "cadence", "speed", "distance", "altitude", "lat", "lng", "temp"} <= set(
        keyed
    )


def test_distance_only_stream_example_is_refused_clearly() -> None:
    """Swagger's example has no time stream: per-second samples cannot be built from it."""
    with pytest.raises(MappingError, match="no time stream"):
        samples_from_streams(load("swagger_example_activity_streams.json"))


@pytest.mark.parametrize("name", [n for n in names() if n.startswith("docs_webhook_event_")])
def test_webhook_events_parse(name: str) -> None:
    event = parse_event((FIXTURES / name).read_bytes())
    assert event.subscription_id == 120475 and event.owner_id == 134815
    assert deauthorized(event) == ("deauthorize" in name)


def test_subscription_validation_answer() -> None:
    fixture = load("docs_webhook_subscription_validation.json")
    challenge = fixture["request"]["query"]["hub.challenge"]
    answer = Challenge(hub_challenge=challenge).model_dump(by_alias=True)
    assert answer == fixture["expected_response"]["body"]
