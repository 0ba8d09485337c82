"""Zips inside the upload's zip (the Garmin Connect bulk export): opened one level
deep, under the same caps, and each inner .fit file a result of its own."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from typing import Any

import asyncpg
import httpx

from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.uploads.settings import UploadSettings
from aurora_ingest.uploads.zipwalk import NESTED_STRIDE, TOO_DEEP

from ..fit.encoder import SessionSpec, activity_file
from .conftest import RunJobs, post_file, stored_files, zip_of
from .test_zips import with_overlap

UPLOADED = "DI_CONNECT/DI-Connect-Uploaded-Files"
PART1 = f"{UPLOADED}/UploadedFiles_0-_Part1.zip"
PART2 = f"{UPLOADED}/UploadedFiles_0-_Part2.zip"


def garmin_export(**parts: bytes) -> bytes:
    """The shape of a Garmin Connect export: profile JSON beside nested zips of activities."""
    entries = {
        "DI_CONNECT/DI-Connect-User/user_profile.json": b'{"userName": "alice"}',
        "DI_CONNECT/DI-Connect-Fitness/": b"",
        "DI_CONNECT/DI-Connect-Fitness/alice_summarizedActivities.json": b"[]",
    }
    entries.update({f"{UPLOADED}/{name}": data for name, data in parts.items()})
    return zip_of(entries)


def two_part_export() -> bytes:
    brick = activity_file(
        serial=13,
        sessions=(SessionSpec("cycling", "road", 30), SessionSpec("running", "generic", 20)),
    )
    part1 = zip_of({"123456.fit": activity_file(serial=11), "123457.fit": activity_file(serial=12)})
    part2 = zip_of({"223456.fit": brick, "notes.txt": b"x", "223457.fit": activity_file(serial=14)})
    return garmin_export(
        **{"UploadedFiles_0-_Part1.zip": part1, "UploadedFiles_0-_Part2.zip": part2}
    )


async def imported(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    archive: bytes,
) -> dict[str, Any]:
    response = await post_file(client, headers, archive, "export.zip")
    assert response.status_code == 202, response.text
    await run_jobs(kit)
    detail: dict[str, Any] = (
        await client.get(f"/uploads/{response.json()['id']}", headers=headers)
    ).json()
    return detail


def results(detail: dict[str, Any]) -> dict[str, tuple[str, str | None, int]]:
    return {f["name"]: (f["result"], f["reason"], f["workouts"]) for f in detail["files"]}


async def test_a_garmin_connect_export_imports_every_activity(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
    upload_settings: UploadSettings,
) -> None:
    archive = two_part_export()
    accepted = await post_file(uploads_client, alice, archive, "export.zip")
    # The request counts the outer entries only: the nested archives are one file each.
    assert accepted.json()["files_total"] == 4
    await run_jobs(kit)
    detail = (await uploads_client.get(f"/uploads/{accepted.json()['id']}", headers=alice)).json()

    assert (detail["status"], detail["error"]) == ("done", None)
    # 4 outer files (2 of them the nested archives) and the 5 files inside them.
    assert detail["files_total"] == detail["files_done"] == len(detail["files"]) == 9
    assert detail["workouts"] == 5
    assert detail["bytes_done"] == detail["bytes_total"] == len(archive)
    got = results(detail)
    assert got[f"{PART1}/123456.fit"] == ("imported", None, 1)
    assert got[f"{PART1}/123457.fit"] == ("imported", None, 1)
    assert got[f"{PART2}/223456.fit"] == ("imported", None, 2)  # the brick's two sessions
    assert got[f"{PART2}/223457.fit"] == ("imported", None, 1)
    assert got[f"{PART2}/notes.txt"] == ("skipped", "not a .fit file", 0)
    assert got[PART1] == (
        "skipped",
        "a nested archive, opened: its 2 files are listed under its name",
        0,
    )
    assert got[PART2][0] == "skipped"
    assert got["DI_CONNECT/DI-Connect-User/user_profile.json"][:2] == ("skipped", "not a .fit file")
    # What `aurora import fit` counts as success (its exit status 0): nothing else appears.
    assert {result for result, _, _ in got.values()} == {"imported", "skipped"}
    inner = [f for f in detail["files"] if f["name"].startswith(f"{PART1}/")]
    assert all(f["position"] >= NESTED_STRIDE and f["sha256"] for f in inner)
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 5
    assert await db.fetchval("SELECT count(*) FROM ingest.raw_payloads") == 4
    assert await db.fetchval("SELECT count(*) FROM ingest.outbox") == 5
    assert stored_files(upload_settings) == []


async def test_reuploading_the_export_changes_nothing(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
) -> None:
    archive = two_part_export()
    first = await imported(uploads_client, alice, kit, run_jobs, archive)
    counts = "SELECT (SELECT count(*) FROM ingest.records), (SELECT count(*) FROM ingest.outbox)"
    before = tuple(await db.fetchrow(counts))
    again = await imported(uploads_client, alice, kit, run_jobs, archive)
    assert tuple(await db.fetchrow(counts)) == before == (5, 5)
    assert (again["status"], again["workouts"]) == ("done", 0)
    assert again["files_total"] == first["files_total"]
    fits = {name: r for name, r in results(again).items() if name.endswith(".fit")}
    assert len(fits) == 4
    assert set(fits.values()) == {("duplicate", "already imported", 0)}


async def test_a_resumed_import_counts_each_nested_file_once(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
    upload_settings: UploadSettings,
) -> None:
    upload_settings.upload_job_slice_s = 1e-9  # one result per run: every nested file resumes
    upload = (await post_file(uploads_client, alice, two_part_export(), "export.zip")).json()
    # 9 results in 7 runs: an archive's own result follows its last file in the same run.
    assert await run_jobs(kit) == 7
    detail = (await uploads_client.get(f"/uploads/{upload['id']}", headers=alice)).json()
    assert detail["status"] == "done"
    assert detail["files_total"] == detail["files_done"] == len(detail["files"]) == 9
    assert detail["workouts"] == 5
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 5


async def test_a_nested_zip_bomb_is_capped(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
) -> None:
    ride = activity_file(serial=21)
    bomb = zip_of({"bomb.fit": b"\0" * (8 * 1024 * 1024), "ok.fit": ride})
    overlapping = with_overlap(zip_of({f"{i}.fit": ride for i in range(3)}))
    detail = await imported(
        uploads_client,
        alice,
        kit,
        run_jobs,
        garmin_export(**{"bomb.zip": bomb, "overlap.zip": overlapping, "junk.zip": b"PK\3\4..."}),
    )
    assert detail["status"] == "done"
    got = results(detail)
    assert got[f"{UPLOADED}/bomb.zip/bomb.fit"] == (
        "rejected",
        "the entry expands more than 100 times (a zip bomb)",
        0,
    )
    assert got[f"{UPLOADED}/bomb.zip/ok.fit"] == ("imported", None, 1)
    assert got[f"{UPLOADED}/overlap.zip"] == ("rejected", "overlapping entries (a zip bomb)", 0)
    result, reason, _ = got[f"{UPLOADED}/junk.zip"]  # accepted by the request: never opened there
    assert result == "rejected"
    assert (reason or "").startswith("not a readable zip archive")
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 1


async def test_a_nested_archive_is_capped_by_its_own_bytes(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    upload_settings: UploadSettings,
) -> None:
    upload_settings.upload_zip_max_nested_bytes = 64 * 1024
    big = zip_of({"noise.fit": os.urandom(100 * 1024)})
    detail = await imported(uploads_client, alice, kit, run_jobs, garmin_export(**{"big.zip": big}))
    assert detail["status"] == "done"
    assert results(detail)[f"{UPLOADED}/big.zip"] == (
        "rejected",
        "the entry expands beyond 65536 bytes",
        0,
    )


async def test_outer_and_nested_bytes_count_against_one_total(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    upload_settings: UploadSettings,
) -> None:
    upload_settings.upload_zip_max_total_bytes = 3 * 64 * 1024
    noise = 60 * 1024  # random, so no ratio refuses anything: only the total can
    part = zip_of({"a.fit": os.urandom(noise), "b.fit": os.urandom(noise)})
    archive = zip_of({"0.fit": os.urandom(noise), "part.zip": part})
    # 60 KiB outer + the nested archive's ~120 KiB + its first 60 KiB entry > 192 KiB:
    # without the nested archive's own bytes, everything would have fitted.
    detail = await imported(uploads_client, alice, kit, run_jobs, archive)
    assert detail["status"] == "failed"
    assert detail["error"] == "the archive expands beyond 196608 bytes in total"
    assert [f["name"] for f in detail["files"]] == ["0.fit"]


async def test_traversal_inside_a_nested_zip_is_refused(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
) -> None:
    ride = activity_file(serial=31)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as nested:
        nested.writestr("../../escape.fit", ride)
        nested.writestr("/etc/absolute.fit", ride)
        link = zipfile.ZipInfo("link.fit")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        nested.writestr(link, "/etc/passwd")
        nested.writestr("ok.fit", ride)
    archive = zip_of({"part.zip": buffer.getvalue(), "../evil.zip": buffer.getvalue()})
    detail = await imported(uploads_client, alice, kit, run_jobs, archive)
    got = results(detail)
    assert got["part.zip/../../escape.fit"] == (
        "rejected",
        "unsafe path: '..' in the entry name",
        0,
    )
    assert got["part.zip//etc/absolute.fit"] == ("rejected", "unsafe path: absolute entry name", 0)
    assert got["part.zip/link.fit"] == ("rejected", "symbolic links are not read", 0)
    assert got["part.zip/ok.fit"] == ("imported", None, 1)
    # An unsafe nested archive is never opened: no result for anything inside it.
    assert got["../evil.zip"] == ("rejected", "unsafe path: '..' in the entry name", 0)
    assert not [name for name in got if name.startswith("../evil.zip/")]
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 1


async def test_a_doubly_nested_zip_is_skipped_with_its_reason(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    db: asyncpg.Connection,
) -> None:
    deeper = zip_of({"deep.fit": activity_file(serial=41)})
    part = zip_of({"deeper.zip": deeper, "ok.fit": activity_file(serial=42)})
    detail = await imported(
        uploads_client, alice, kit, run_jobs, garmin_export(**{"part.zip": part})
    )
    got = results(detail)
    assert got[f"{UPLOADED}/part.zip/deeper.zip"] == ("skipped", TOO_DEEP, 0)
    assert got[f"{UPLOADED}/part.zip/ok.fit"] == ("imported", None, 1)
    assert not [name for name in got if "deep.fit" in name]
    assert await db.fetchval("SELECT count(*) FROM ingest.records") == 1


async def test_the_upload_file_count_is_capped_with_the_nested_files(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    upload_settings: UploadSettings,
) -> None:
    limit = upload_settings.upload_zip_max_entries
    part = zip_of({f"{i}.txt": b"x" for i in range(limit - 1)})  # within the per-archive cap
    archive = zip_of({"a.txt": b"a", "b.txt": b"b", "part.zip": part})
    detail = await imported(uploads_client, alice, kit, run_jobs, archive)
    assert detail["status"] == "done"
    assert detail["files_total"] == detail["files_done"] == 3
    assert results(detail)["part.zip"] == (
        "rejected",
        f"with its {limit - 1} files the upload would hold more than {limit} files",
        0,
    )


async def test_an_empty_nested_archive_is_skipped(
    uploads_client: httpx.AsyncClient, alice: dict[str, str], kit: ProviderKit, run_jobs: RunJobs
) -> None:
    archive = zip_of({"ride.fit": activity_file(serial=51), "empty.zip": zip_of({"dir/": b""})})
    detail = await imported(uploads_client, alice, kit, run_jobs, archive)
    assert detail["status"] == "done"
    assert results(detail)["empty.zip"] == ("skipped", "the nested archive holds no file", 0)
    assert detail["files_total"] == detail["files_done"] == 2


async def test_a_large_nested_archive_is_spooled_to_disk_and_removed(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    upload_settings: UploadSettings,
) -> None:
    upload_settings.upload_zip_nested_memory_bytes = 1024  # every nested archive goes to disk
    detail = await imported(uploads_client, alice, kit, run_jobs, two_part_export())
    assert (detail["status"], detail["workouts"]) == ("done", 5)
    assert stored_files(upload_settings) == []
