"""The upload limit bites before the body is read, and malformed bodies are 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx

from aurora_ingest.uploads.settings import UploadSettings

from ..fit.encoder import activity_file
from .conftest import multipart, stored_files

CHUNK = 64 * 1024


def part_head() -> bytes:
    """The body's first boundary and the file part's headers, without data."""
    body, _ = multipart(b"")
    return body[: body.index(b"\r\n\r\n") + 4]


class GuardedBody:
    """A streamed body that fails the test if read past `allowed` bytes."""

    def __init__(self, total: int, allowed: int) -> None:
        self.total = total
        self.allowed = allowed
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head = part_head()
        yield head
        self.sent = len(head)
        while self.sent < self.total:
            if self.sent > self.allowed:
                raise AssertionError(f"the server read {self.sent} bytes, past the limit")
            chunk = b"\0" * min(CHUNK, self.total - self.sent)
            self.sent += len(chunk)
            yield chunk


async def test_declared_length_over_the_limit_is_413_before_any_byte_is_read(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    upload_settings: UploadSettings,
    db: asyncpg.Connection,
) -> None:
    limit = upload_settings.upload_max_bytes
    body = GuardedBody(total=limit + 1, allowed=0)
    _, headers = multipart(b"")
    response = await uploads_client.post(
        "/uploads",
        content=body,
        headers={**alice, **headers, "content-length": str(limit + 1)},
    )
    assert response.status_code == 413
    assert response.json()["limit"] == limit
    assert body.sent == 0
    assert await db.fetchval("SELECT count(*) FROM ingest.uploads") == 0


async def test_a_streamed_body_one_byte_over_is_413_before_it_is_fully_read(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    upload_settings: UploadSettings,
    db: asyncpg.Connection,
) -> None:
    """No Content-Length (chunked): the count of received bytes decides."""
    limit = upload_settings.upload_max_bytes
    body = GuardedBody(total=limit * 4, allowed=limit + CHUNK)
    _, headers = multipart(b"")
    response = await uploads_client.post("/uploads", content=body, headers={**alice, **headers})
    assert response.status_code == 413
    assert limit < body.sent <= limit + CHUNK
    assert await db.fetchval("SELECT count(*) FROM ingest.uploads") == 0
    assert stored_files(upload_settings) == []  # the partial file is gone


async def test_a_lying_content_length_does_not_lift_the_limit(
    uploads_client: httpx.AsyncClient, alice: dict[str, str], upload_settings: UploadSettings
) -> None:
    limit = upload_settings.upload_max_bytes

    async def body() -> AsyncIterator[bytes]:
        yield part_head()
        for _ in range(limit // CHUNK + 2):
            yield b"\0" * CHUNK

    _, headers = multipart(b"")
    response = await uploads_client.post(
        "/uploads", content=body(), headers={**alice, **headers, "content-length": "100"}
    )
    assert response.status_code == 413


async def test_exactly_at_the_limit_is_accepted_as_far_as_size_goes(
    uploads_client: httpx.AsyncClient, alice: dict[str, str], upload_settings: UploadSettings
) -> None:
    data = activity_file()
    body, headers = multipart(data)
    upload_settings.upload_max_bytes = len(body)
    response = await uploads_client.post("/uploads", content=body, headers={**alice, **headers})
    assert response.status_code == 202, response.text


async def test_not_multipart_is_415(
    uploads_client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    response = await uploads_client.post(
        "/uploads", content=activity_file(), headers={**alice, "content-type": "application/fit"}
    )
    assert response.status_code == 415
    assert response.json()["detail"] == "the body must be multipart/form-data"


async def test_no_file_part_is_422(
    uploads_client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    response = await uploads_client.post(
        "/uploads", data={"note": "hello"}, files={"other": ("a.fit", b"x")}, headers=alice
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "the multipart body has no 'file' part"


async def test_two_file_parts_are_422(
    uploads_client: httpx.AsyncClient, alice: dict[str, str], upload_settings: UploadSettings
) -> None:
    data = activity_file()
    response = await uploads_client.post(
        "/uploads", files=[("file", ("a.fit", data)), ("file", ("b.fit", data))], headers=alice
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "only one 'file' part per upload"
    assert stored_files(upload_settings) == []


async def test_a_body_cut_before_its_closing_boundary_is_422(
    uploads_client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    body, headers = multipart(activity_file())
    response = await uploads_client.post(
        "/uploads", content=body[:-10], headers={**alice, **headers}
    )
    assert response.status_code == 422
    assert "ended before its closing boundary" in response.json()["detail"]


async def test_a_client_file_name_never_chooses_where_bytes_land(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    upload_settings: UploadSettings,
) -> None:
    response = await uploads_client.post(
        "/uploads",
        files={"file": ("../../../etc/evil.fit", activity_file())},
        headers=alice,
    )
    assert response.status_code == 202
    assert response.json()["filename"] == "evil.fit"
    [stored] = stored_files(upload_settings)
    assert stored.parent.parent == upload_settings.upload_dir
    assert stored.name.endswith(".upload")
