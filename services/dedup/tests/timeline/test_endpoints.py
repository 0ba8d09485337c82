"""`/timeline`: own data only, newest first, explained, and bounded."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_dedup.timeline.resolver import canonical_id_for
from aurora_shared.testing.tokens import TestIssuer

from ..health.factory import Health
from .factory import Workout, apply, expected_groups, ingest_all
from .http import assert_problem

Sessions = async_sessionmaker[AsyncSession]


async def _history(sessions: Sessions, me: uuid.UUID, other: uuid.UUID) -> dict[str, Workout]:
    w = {
        "ride": Workout(me, source="strava", device="Garmin Edge 530", has_end=False),
        "whoop": Workout(me, source="whoop", device="WHOOP 4.0", start_min=3, minutes=54),
        "run": Workout(me, sport="run", start_min=24 * 60),
        "yoga": Workout(me, source="apple_health", sport="yoga", start_min=48 * 60),
        "theirs": Workout(other, start_min=30),
    }
    await ingest_all(sessions, *w.values(), first=0)
    return w


async def test_timeline_lists_own_canonicals_newest_first_with_reasons(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    w = await _history(sessions, me, other)
    response = await client.get("/timeline", headers=issuer.headers(me))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["sport"] for i in items] == ["yoga", "run", "ride"]
    ride = items[2]
    assert ride["id"] == str(canonical_id_for(w["ride"].record_id))
    assert ride["primary"] == {
        "record_id": str(w["ride"].record_id),
        "source": "strava",
        "origin_device": "Garmin Edge 530",
        "recorded_by": "garmin",
    }
    group = expected_groups([w["ride"], w["whoop"]])[w["ride"].record_id]
    assert ride["reason"] == group.reason
    (dup,) = ride["duplicates"]
    assert dup["record_id"] == str(w["whoop"].record_id)
    assert dup["source"] == "whoop"
    assert dup["reason"] == group.duplicates[0].reason
    assert (ride["duration_s"], ride["metrics"]) == (3600.0, {"avg_hr": 140})
    assert ride["start"] == "2024-05-01T07:00:00Z"
    assert ride["end"] == "2024-05-01T08:00:00Z"

    theirs = await client.get("/timeline", headers=issuer.headers(other))
    assert [i["primary"]["record_id"] for i in theirs.json()["items"]] == [
        str(w["theirs"].record_id)
    ]


async def test_timeline_filters_and_limits(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    await _history(sessions, me, uuid.uuid4())
    auth = issuer.headers(me)

    async def sports(**params: str | int) -> list[str]:
        response = await client.get("/timeline", headers=auth, params=params)
        assert response.status_code == 200, response.text
        return [i["sport"] for i in response.json()["items"]]

    assert await sports(limit=1) == ["yoga"]
    assert await sports(limit=200) == ["yoga", "run", "ride"]
    assert await sports(**{"from": "2024-05-02T07:00:00Z"}) == ["yoga", "run"]
    assert await sports(to="2024-05-02T07:00:00Z") == ["ride"]
    assert await sports(**{"from": "2024-05-02T00:00:00+02:00", "to": "2024-05-03T00:00:00Z"}) == [
        "run"
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": 10**6},
        {"limit": "many"},
        {"from": "yesterday"},
        {"from": "2024-05-02T07:00:00"},  # no offset: ambiguous, refused
        {"from": "2024-05-03T00:00:00Z", "to": "2024-05-02T00:00:00Z"},
        {"cursor": "not a cursor"},
        {"cursor": "bm90LWEtZGF0ZXxub3QtYW4taWQ"},  # "not-a-date|not-an-id"
        {"cursor": "MjAyNC0wNS0wMVQwNzowMDowMHwx"},  # a date without an offset, a bad id
        {"cursor": "x" * 201},
        {"cursor": "%%%"},
        {"sport": "quidditch"},
        {"sport": "x" * 65},
    ],
)
async def test_bad_query_is_a_422_problem(
    client: httpx.AsyncClient, issuer: TestIssuer, params: dict[str, str | int]
) -> None:
    headers = issuer.headers(uuid.uuid4())
    assert_problem(await client.get("/timeline", headers=headers, params=params), 422)


async def test_one_canonical_and_404_for_anyone_else(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    w = await _history(sessions, me, other)
    cid = canonical_id_for(w["ride"].record_id)
    mine = await client.get(f"/timeline/{cid}", headers=issuer.headers(me))
    assert mine.status_code == 200
    assert mine.json()["duplicates"][0]["record_id"] == str(w["whoop"].record_id)

    theirs = await client.get(f"/timeline/{cid}", headers=issuer.headers(other))
    missing_id = uuid.uuid4()
    missing = await client.get(f"/timeline/{missing_id}", headers=issuer.headers(other))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.headers["content-type"] == missing.headers["content-type"]
    assert theirs.json() | {"instance": None} == missing.json() | {"instance": None}
    assert theirs.text.replace(str(cid), "ID") == missing.text.replace(str(missing_id), "ID")
    # A duplicate's record id is not a canonical id either.
    dup = await client.get(f"/timeline/{w['whoop'].record_id}", headers=issuer.headers(me))
    assert dup.status_code == 404


async def test_timeline_needs_a_valid_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/timeline")).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await client.get(f"/timeline/{uuid.uuid4()}", headers=bad)).status_code == 401


async def test_pages_follow_the_cursor_to_the_end(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    # Two workouts share a start: the page boundary must split them by id, not lose one.
    workouts = [Workout(me, sport="run", start_min=day * 24 * 60) for day in range(5)]
    workouts.append(Workout(me, sport="swim", start_min=2 * 24 * 60, minutes=30))
    await ingest_all(sessions, *workouts, first=0)
    auth = issuer.headers(me)
    whole = (await client.get("/timeline", headers=auth, params={"limit": 200})).json()
    assert whole["next_cursor"] is None
    assert len(whole["items"]) == 6

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/timeline", headers=auth, params=params)).json()
        pages += 1
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [item["id"] for item in whole["items"]]
    starts = [item["start"] for item in whole["items"]]
    assert starts == sorted(starts, reverse=True)
    # The cursor goes with the filters: a window keeps paging inside it.
    window: dict[str, str | int] = {
        "from": "2024-05-02T00:00:00Z",
        "to": "2024-05-04T00:00:00Z",
        "limit": 1,
    }
    first = (await client.get("/timeline", headers=auth, params=window)).json()
    second = (
        await client.get(
            "/timeline", headers=auth, params={**window, "cursor": first["next_cursor"]}
        )
    ).json()
    third = (
        await client.get(
            "/timeline", headers=auth, params={**window, "cursor": second["next_cursor"]}
        )
    ).json()
    assert [len(p["items"]) for p in (first, second, third)] == [1, 1, 1]
    assert third["next_cursor"] is None


async def test_sport_filter_includes_the_sports_below(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    sports = ["ride", "virtual_ride", "gravel_ride", "run", "trail_run", "yoga"]
    for seq, sport in enumerate(sports):
        await apply(sessions, Workout(me, sport=sport, start_min=seq * 24 * 60).ingested(seq))
    auth = issuer.headers(me)

    async def listed(sport: str) -> set[str]:
        response = await client.get("/timeline", headers=auth, params={"sport": sport})
        assert response.status_code == 200, response.text
        return {item["sport"] for item in response.json()["items"]}

    assert await listed("ride") == {"ride", "virtual_ride", "gravel_ride"}
    assert await listed("indoor_cycling") == {"virtual_ride"}
    assert await listed("Trail Run") == {"trail_run"}
    assert await listed("run") == {"run", "trail_run"}
    assert await listed("other") == set(sports)
    assert await listed("swim") == set()


async def test_list_items_show_no_raw_records(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    await _history(sessions, me, uuid.uuid4())
    (item, *_) = (await client.get("/timeline", headers=issuer.headers(me))).json()["items"]
    assert set(item) == {
        "id",
        "sport",
        "start",
        "end",
        "duration_s",
        "metrics",
        "field_sources",
        "primary",
        "duplicates",
        "reason",
        "updated_at",
    }
    assert "samples" not in str(item) and "a_field_from_the_future" not in str(item)


async def test_workout_detail_explains_every_record_and_field(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    ride = Workout(me, source="strava", device="Garmin Edge 530", has_end=False, metrics={})
    ride.metrics = {"distance_m": 40_000.0}
    whoop = Workout(
        me, source="whoop", device="WHOOP 4.0", start_min=3, minutes=54, metrics={"avg_hr": 141}
    )
    for seq, workout in enumerate((ride, whoop)):
        await apply(sessions, workout.ingested(seq))
    cid = canonical_id_for(ride.record_id)
    auth = issuer.headers(me)

    response = await client.get(f"/timeline/workouts/{cid}", headers=auth)
    assert response.status_code == 200, response.text
    detail = response.json()
    group = expected_groups([ride, whoop])[ride.record_id]
    assert detail["primary"] == {
        "record_id": str(ride.record_id),
        "source": "strava",
        "external_id": ride.external_id,
        "origin_device": "Garmin Edge 530",
        "recorded_by": "garmin",
        "sport": "ride",
        "start": "2024-05-01T07:00:00Z",
        "end": None,
        "duration_s": 3600.0,
        "tz_offset_min": 60,
    }
    (dup,) = detail["duplicates"]
    assert dup["record_id"] == str(whoop.record_id)
    assert (dup["source"], dup["origin_device"], dup["recorded_by"]) == (
        "whoop",
        "WHOOP 4.0",
        "whoop",
    )
    assert dup["overlap"] == {"seconds": 54 * 60.0, "fraction": 0.9}
    assert dup["reason"] == group.duplicates[0].reason
    assert detail["reason"] == group.reason
    assert detail["explanation"] == [group.reason, group.duplicates[0].reason]
    # The primary's fields first, the gaps filled from the duplicate, each with its source.
    assert detail["metrics"] == {"distance_m": 40_000.0, "avg_hr": 141}
    assert detail["field_sources"] == {
        "distance_m": {"record_id": str(ride.record_id), "source": "strava"},
        "avg_hr": {"record_id": str(whoop.record_id), "source": "whoop"},
    }
    assert detail["link_ids"] == []
    listed = (await client.get("/timeline", headers=auth)).json()["items"][0]
    assert (listed["metrics"], listed["field_sources"]) == (
        detail["metrics"],
        detail["field_sources"],
    )
    # The former address answers the same document.
    assert (await client.get(f"/timeline/{cid}", headers=auth)).json() == detail

    theirs = await client.get(f"/timeline/workouts/{cid}", headers=issuer.headers(other))
    missing = await client.get(f"/timeline/workouts/{uuid.uuid4()}", headers=issuer.headers(other))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() | {"instance": None} == missing.json() | {"instance": None}


async def test_health_days_join_the_pages_in_time_order(
    client: httpx.AsyncClient, sessions: Sessions, issuer: TestIssuer
) -> None:
    me = uuid.uuid4()
    for seq, day in enumerate(range(3)):  # workouts on May 1, 2 and 3
        await apply(sessions, Workout(me, sport="run", start_min=day * 24 * 60).ingested(seq))
    for seq, day in enumerate(range(1, 6)):  # health days May 1 to May 5
        night = Health(me, source="oura", day=date(2024, 5, day))
        await apply(sessions, night.ingested(seq))
    auth = issuer.headers(me)

    whole = (await client.get("/timeline", headers=auth)).json()
    assert [d["date"] for d in whole["days"]] == [f"2024-05-0{d}" for d in (5, 4, 3, 2, 1)]
    assert whole["days"][0]["sleep"]["source"] == "oura"
    assert len(whole["items"]) == 3 and whole["next_cursor"] is None

    # Paged by two items of either kind: a day comes before the workouts of its date.
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/timeline", headers=auth, params=params)).json()
        assert len(page["items"]) + len(page["days"]) == 2 or page["next_cursor"] is None
        entries = [(d["date"], 1, "") for d in page["days"]]
        entries += [(i["start"][:10], 0, i["start"]) for i in page["items"]]
        seen += [
            f"{d}/{'day' if rank else 'workout'}" for d, rank, _ in sorted(entries, reverse=True)
        ]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [
        "2024-05-05/day",
        "2024-05-04/day",
        "2024-05-03/day",
        "2024-05-03/workout",
        "2024-05-02/day",
        "2024-05-02/workout",
        "2024-05-01/day",
        "2024-05-01/workout",
    ]

    window = {"from": "2024-05-02T12:00:00Z", "to": "2024-05-03T12:00:00Z"}
    windowed = (await client.get("/timeline", headers=auth, params=window)).json()
    assert [d["date"] for d in windowed["days"]] == ["2024-05-03", "2024-05-02"]
    assert len(windowed["items"]) == 1
    by_sport = (await client.get("/timeline", headers=auth, params={"sport": "run"})).json()
    assert (len(by_sport["items"]), by_sport["days"]) == (3, [])
