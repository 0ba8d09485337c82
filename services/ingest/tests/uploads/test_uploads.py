"""POST/GET /uploads: a single FIT file from the request to its workout and event."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx

from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.uploads.settings import UploadSettings

from ..fit.encoder import FitEncoder, SessionSpec, activity_file
from .conftest import RunJobs, post_file, stored_files


async def test_a_fit_file_becomes_a_workout_with_its_event(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
    upload_settings: UploadSettings,
) -> None:
    data = activity_file(sessions=(SessionSpec("cycling", "road", 90),))
    response = await post_file(uploads_client, alice, data)
    assert response.status_code == 202, response.text
    upload = response.json()
    assert upload["status"] == "queued"
    assert upload["container"] == "fit"
    assert (upload["files_total"], upload["files_done"]) == (1, 0)
    assert upload["bytes_total"] == len(data)
    assert response.headers["location"] == f"/uploads/{upload['id']}"
    assert len(stored_files(upload_settings)) == 1

    assert await run_jobs(kit) == 1

    done = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    assert done["status"] == "done"
    assert (done["files_done"], done["bytes_done"], done["workouts"]) == (1, len(data), 1)
    [result] = done["files"]
    assert result["result"] == "imported"
    assert result["name"] == "ride.fit"
    assert result["workouts"] == 1
    record = await db.fetchrow("SELECT * FROM ingest.records")
    assert str(record["id"]) == result["record_ids"][0]
    assert record["source"] == "garmin"
    assert record["sport"] == "ride"
    assert record["duration_s"] == 90.0
    raw = await db.fetchrow("SELECT provider, kind, body FROM ingest.raw_payloads")
    assert (raw["provider"], raw["kind"], bytes(raw["body"])) == ("upload", "fit", data)
    [event] = await db.fetch("SELECT event_type, envelope::text AS e FROM ingest.outbox")
    assert event["event_type"] == "workout.ingested"
    assert json.loads(event["e"])["payload"]["record_id"] == str(record["id"])
    assert stored_files(upload_settings) == []  # the body is deleted once imported


async def test_re_uploading_the_same_file_changes_nothing(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
) -> None:
    data = activity_file()
    first = await post_file(uploads_client, alice, data)
    await run_jobs(kit)
    before = await db.fetch("SELECT id, revision, updated_at FROM ingest.records")
    second = await post_file(uploads_client, alice, data, filename="again.fit")
    assert second.status_code == 202
    await run_jobs(kit)
    detail = (await uploads_client.get(f"/uploads/{second.json()['id']}", headers=alice)).json()
    assert detail["status"] == "done"
    assert [(f["result"], f["reason"], f["workouts"]) for f in detail["files"]] == [
        ("duplicate", "already imported", 0)
    ]
    assert await db.fetch("SELECT id, revision, updated_at FROM ingest.records") == before
    assert await db.fetchval("SELECT count(*) FROM ingest.outbox") == 1
    assert await db.fetchval("SELECT count(*) FROM ingest.raw_payloads") == 1
    assert first.json()["id"] != detail["id"]


async def test_the_same_file_of_another_user_is_theirs(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    bob: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
) -> None:
    data = activity_file()
    await post_file(uploads_client, alice, data)
    await post_file(uploads_client, bob, data)
    await run_jobs(kit)
    assert await db.fetchval("SELECT count(DISTINCT user_id) FROM ingest.records") == 2


async def test_a_multisport_file_gives_one_workout_per_session(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
) -> None:
    data = activity_file(
        sessions=(
            SessionSpec("swimming", "open_water", 40),
            SessionSpec("transition", "generic", 10),
            SessionSpec("cycling", "road", 60),
        )
    )
    response = await post_file(uploads_client, alice, data)
    await run_jobs(kit)
    detail = (await uploads_client.get(f"/uploads/{response.json()['id']}", headers=alice)).json()
    assert detail["workouts"] == 3
    rows = await db.fetch("SELECT external_id, sport FROM ingest.records ORDER BY start_at")
    assert [r["sport"] for r in rows][0::2] == ["swim", "ride"]
    assert len({r["external_id"] for r in rows}) == 3
    assert await db.fetchval("SELECT count(*) FROM ingest.outbox") == 3


async def test_empty_file_is_422(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    db: asyncpg.Connection,
    upload_settings: UploadSettings,
) -> None:
    response = await post_file(uploads_client, alice, b"")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "the file is empty"
    assert await db.fetchval("SELECT count(*) FROM ingest.uploads") == 0
    assert stored_files(upload_settings) == []


async def test_a_non_activity_file_is_422_saying_what_it_is(
    uploads_client: httpx.AsyncClient, alice: dict[str, str], db: asyncpg.Connection
) -> None:
    enc = FitEncoder()
    enc.message("file_id", {"type": "settings", "manufacturer": "garmin", "product": 1})
    enc.message("user_profile", {"weight": 70.0})
    response = await post_file(uploads_client, alice, enc.build(), filename="Settings.fit")
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == "this is a settings file, not an activity"
    assert problem["file"] == "Settings.fit"
    assert await db.fetchval("SELECT count(*) FROM ingest.uploads") == 0
    assert await db.fetchval("SELECT count(*) FROM ingest.provider_jobs") == 0


async def test_a_bad_crc_is_422_with_the_reason(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    db: asyncpg.Connection,
    upload_settings: UploadSettings,
) -> None:
    data = bytearray(activity_file())
    data[-1] ^= 0xFF
    response = await post_file(uploads_client, alice, bytes(data))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("not a valid FIT file: ")
    assert "crc" in detail.lower()
    assert await db.fetchval("SELECT count(*) FROM ingest.uploads") == 0
    assert stored_files(upload_settings) == []


async def test_a_truncated_file_is_422(
    uploads_client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    data = activity_file()
    response = await post_file(uploads_client, alice, data[: len(data) // 2])
    assert response.status_code == 422
    assert response.json()["detail"].startswith("not a valid FIT file: ")


async def test_random_bytes_are_422_not_500(
    uploads_client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    response = await post_file(uploads_client, alice, b"this is not a FIT file at all")
    assert response.status_code == 422
    assert response.json()["detail"].startswith("not a valid FIT file: ")


async def test_other_users_uploads_are_404_and_not_listed(
    uploads_client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    upload = (await post_file(uploads_client, alice, activity_file())).json()
    theirs = await uploads_client.get(f"/uploads/{upload['id']}", headers=bob)
    missing = await uploads_client.get(f"/uploads/{uuid.uuid4()}", headers=bob)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"] == missing.json()["detail"] == "upload not found"
    cancel = await uploads_client.post(f"/uploads/{upload['id']}/cancel", headers=bob)
    assert cancel.status_code == 404
    assert (await uploads_client.get("/uploads", headers=bob)).json()["items"] == []
    mine = (await uploads_client.get("/uploads", headers=alice)).json()["items"]
    assert [u["id"] for u in mine] == [upload["id"]]


async def test_list_is_newest_first_and_bounded(
    uploads_client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    ids = []
    for minutes in range(3):
        start_at = activity_file(start=None, serial=1000 + minutes)
        ids.append((await post_file(uploads_client, alice, start_at)).json()["id"])
    page = (await uploads_client.get("/uploads?limit=2", headers=alice)).json()
    assert [u["id"] for u in page["items"]] == ids[::-1][:2]
    assert "files" not in page["items"][0]
    rest = (
        await uploads_client.get(
            "/uploads",
            params={"limit": 2, "before": page["next_before"], "before_id": page["next_before_id"]},
            headers=alice,
        )
    ).json()
    assert [u["id"] for u in rest["items"]] == [ids[0]]
    assert rest["next_before"] is None
    too_many = await uploads_client.get("/uploads?limit=1000", headers=alice)
    assert too_many.status_code == 422


async def test_anonymous_upload_is_401_without_reading_the_body(
    uploads_client: httpx.AsyncClient,
) -> None:
    async def body() -> AsyncIterator[bytes]:
        raise AssertionError("the body was read")
        yield b""

    response = await uploads_client.post(
        "/uploads",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 401
