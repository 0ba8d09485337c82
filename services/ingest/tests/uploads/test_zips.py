"""Zip uploads: every entry gets a result; bombs, traversal and lies are refused."""

from __future__ import annotations

import os
import struct
import zipfile

import asyncpg
import httpx
import pytest

from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.uploads.settings import UploadSettings

from ..fit.encoder import SessionSpec, activity_file
from .conftest import RunJobs, post_file, stored_files, zip_of


def with_declared_size(archive: bytes, size: int) -> bytes:
    """The one-entry archive with its uncompressed size (local and central) rewritten."""
    data = bytearray(archive)
    struct.pack_into("<I", data, 22, size)
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, size)
    return bytes(data)


def with_overlap(archive: bytes) -> bytes:
    """Every central directory entry pointing at the first local header."""
    data = bytearray(archive)
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        struct.pack_into("<I", data, at + 42, 0)
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


async def upload_zip(
    client: httpx.AsyncClient, headers: dict[str, str], archive: bytes
) -> httpx.Response:
    return await post_file(client, headers, archive, filename="export.zip")


async def test_a_bulk_export_gets_a_result_per_file(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
    upload_settings: UploadSettings,
) -> None:
    run = activity_file(serial=1)
    brick = activity_file(
        serial=2,
        sessions=(SessionSpec("cycling", "road", 30), SessionSpec("running", "generic", 20)),
    )
    broken = bytearray(activity_file(serial=3))
    broken[-1] ^= 0x55
    archive = zip_of(
        {
            "activities/run.fit": run,
            "activities/": b"",
            "activities/brick.FIT": brick,
            "notes.txt": b"hello",
            "../escape.fit": run,
            "/etc/absolute.fit": run,
            "activities/broken.fit": bytes(broken),
            "bomb.fit": b"\0" * (2 * 1024 * 1024),
            "copy/run-again.fit": run,
            "__MACOSX/activities/._run.fit": b"\0\5\26\7",
        }
    )
    response = await upload_zip(uploads_client, alice, archive)
    assert response.status_code == 202, response.text
    upload = response.json()
    assert (upload["container"], upload["files_total"]) == ("zip", 9)  # directories are not files

    await run_jobs(kit)

    detail = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    assert detail["status"] == "done"
    assert (detail["files_done"], detail["workouts"]) == (9, 3)
    assert detail["bytes_done"] == detail["bytes_total"] == len(archive)
    results = {f["name"]: (f["result"], f["reason"], f["workouts"]) for f in detail["files"]}
    assert results["activities/run.fit"] == ("imported", None, 1)
    assert results["activities/brick.FIT"] == ("imported", None, 2)
    assert results["notes.txt"] == ("skipped", "not a .fit file", 0)
    assert results["../escape.fit"] == ("rejected", "unsafe path: '..' in the entry name", 0)
    assert results["/etc/absolute.fit"] == ("rejected", "unsafe path: absolute entry name", 0)
    assert results["activities/broken.fit"][0] == "rejected"
    assert results["activities/broken.fit"][1].startswith("not a valid FIT file: ")
    assert results["bomb.fit"] == (
        "rejected",
        "the entry expands more than 100 times (a zip bomb)",
        0,
    )
    assert results["copy/run-again.fit"] == ("duplicate", "already imported", 0)
    assert results["__MACOSX/activities/._run.fit"][0] == "skipped"
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 3
    assert await db.fetchval("SELECT count(*) FROM ingest.raw_payloads") == 2
    assert await db.fetchval("SELECT count(*) FROM ingest.outbox") == 3
    assert stored_files(upload_settings) == []


async def test_an_entry_over_the_cap_is_refused_by_bytes_read(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    upload_settings: UploadSettings,
) -> None:
    noise = os.urandom(upload_settings.upload_zip_max_entry_bytes + 1)
    archive = zip_of({"big.fit": noise, "ok.fit": activity_file()})
    upload = (await upload_zip(uploads_client, alice, archive)).json()
    await run_jobs(kit)
    detail = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    results = {f["name"]: (f["result"], f["reason"]) for f in detail["files"]}
    limit = upload_settings.upload_zip_max_entry_bytes
    assert results["big.fit"] == ("rejected", f"the entry expands beyond {limit} bytes")
    assert results["ok.fit"] == ("imported", None)


@pytest.mark.parametrize("declared", [100, 0xFFFFFFFF - 1])
async def test_declared_sizes_are_never_believed(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    declared: int,
) -> None:
    archive = with_declared_size(zip_of({"lying.fit": activity_file()}), declared)
    upload = (await upload_zip(uploads_client, alice, archive)).json()
    await run_jobs(kit)
    detail = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    [result] = detail["files"]
    assert result["result"] == "rejected"
    assert result["reason"].startswith(("unreadable zip entry", "the entry holds"))


async def test_overlapping_entries_are_422(
    uploads_client: httpx.AsyncClient, alice: dict[str, str], db: asyncpg.Connection
) -> None:
    data = activity_file()
    archive = with_overlap(zip_of({"a.fit": data, "b.fit": data, "c.fit": data}))
    response = await upload_zip(uploads_client, alice, archive)
    assert response.status_code == 422
    assert response.json()["detail"] == "overlapping entries (a zip bomb)"
    assert await db.fetchval("SELECT count(*) FROM ingest.uploads") == 0


async def test_too_many_entries_are_422(
    uploads_client: httpx.AsyncClient, alice: dict[str, str], upload_settings: UploadSettings
) -> None:
    count = upload_settings.upload_zip_max_entries + 1
    archive = zip_of({f"{i}.txt": b"x" for i in range(count)})
    response = await upload_zip(uploads_client, alice, archive)
    assert response.status_code == 422
    assert response.json()["detail"] == (
        f"the archive has {count} entries, more than {upload_settings.upload_zip_max_entries}"
    )


async def test_a_broken_zip_is_422(
    uploads_client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    archive = zip_of({"a.fit": activity_file()})
    response = await upload_zip(uploads_client, alice, archive[: len(archive) // 2])
    assert response.status_code == 422
    assert response.json()["detail"].startswith("not a readable zip archive")


async def test_an_empty_zip_is_422(
    uploads_client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    response = await upload_zip(uploads_client, alice, zip_of({"dir/": b""}))
    assert response.status_code == 422
    assert response.json()["detail"] == "the archive holds no file"


async def test_the_archive_total_is_capped_by_bytes_read(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    upload_settings: UploadSettings,
) -> None:
    upload_settings.upload_zip_max_total_bytes = 3 * 64 * 1024
    filler = b"\0" * (60 * 1024)  # within the ratio floor, so only the total can refuse it
    entries = {f"{i}.fit": filler for i in range(5)}
    upload = (await upload_zip(uploads_client, alice, zip_of(entries))).json()
    await run_jobs(kit)
    detail = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    assert detail["status"] == "failed"
    assert detail["error"] == "the archive expands beyond 196608 bytes in total"
    assert detail["files_done"] == 3  # judged before the total was reached


async def test_stored_entries_are_read_like_deflated_ones(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
) -> None:
    archive = zip_of({"a.fit": activity_file()}, compression=zipfile.ZIP_STORED)
    upload = (await upload_zip(uploads_client, alice, archive)).json()
    await run_jobs(kit)
    detail = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    assert [f["result"] for f in detail["files"]] == ["imported"]
