"""Upload bodies on disk: streamed in under a byte limit, one directory per user.

A per-user directory makes erasure one `rmtree` that also catches files whose
upload row never committed. Stored names are generated (`<uuid>.upload`), never
taken from the client, so a file name cannot steer where bytes land.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from aurora_ingest.uploads.multipart import (
    Event,
    MultipartError,
    MultipartReader,
    PartData,
    PartStart,
    boundary_of,
)
from aurora_ingest.uploads.settings import UploadSettings
from aurora_shared.errors import ProblemError

FILE_FIELD: Final = "file"
MAX_FILENAME = 255
# Small form fields besides the file are tolerated (and ignored) up to this size.
MAX_FIELD_BYTES = 1024
WRITE_BATCH = 1024 * 1024


class PayloadTooLargeError(ProblemError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the upload exceeds the limit of {limit} bytes", limit=limit)


@dataclass(frozen=True)
class Received:
    stored_as: str  # relative to the upload directory
    filename: str
    size: int
    sha256: str
    head: bytes  # the first bytes, to tell a zip from a FIT file


def user_dir(settings: UploadSettings, user_id: uuid.UUID) -> Path:
    return settings.upload_dir / str(user_id)


def path_of(settings: UploadSettings, stored_as: str) -> Path:
    return settings.upload_dir / stored_as


def clean_filename(name: str | None) -> str:
    """The client's name, for display only: last path component, printable, bounded."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:MAX_FILENAME] or "upload"


def check_declared_length(content_length: str | None, limit: int) -> None:
    """413 from the header alone, before a single body byte is read."""
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError:
        raise ProblemError(400, "invalid Content-Length") from None
    if declared > limit:
        raise PayloadTooLargeError(limit)


class _Sink:
    """The file part on disk, hashed as it arrives, written off the event loop in batches."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self.head = b""
        self._hash = hashlib.sha256()
        self._pending = bytearray()
        self._file: BinaryIO | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = await asyncio.to_thread(self.path.open, "xb")

    async def write(self, data: bytes) -> None:
        if len(self.head) < 16:
            self.head += data[: 16 - len(self.head)]
        self.size += len(data)
        self._hash.update(data)
        self._pending += data
        if len(self._pending) >= WRITE_BATCH:
            await self.flush()

    async def flush(self) -> None:
        if self._pending and self._file is not None:
            chunk, self._pending = bytes(self._pending), bytearray()
            await asyncio.to_thread(self._file.write, chunk)

    async def close(self) -> None:
        await self.flush()
        if self._file is not None:
            await asyncio.to_thread(self._file.close)
            self._file = None

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


async def receive(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str | None,
    settings: UploadSettings,
    user_id: uuid.UUID,
) -> Received:
    """The `file` part of a multipart body, on disk; 413 at the first byte over the limit.

    The caller has already checked Content-Length; the count here is what actually
    arrives, so a lying or absent header changes nothing.
    """
    try:
        reader = MultipartReader(boundary_of(content_type))
    except MultipartError as exc:
        raise ProblemError(415, str(exc)) from None
    stored_as = f"{user_id}/{uuid.uuid4()}.upload"
    sink = _Sink(path_of(settings, stored_as))
    form = _Form(sink)
    received = 0
    try:
        await sink.open()
        async for chunk in chunks:
            received += len(chunk)
            if received > settings.upload_max_bytes:
                raise PayloadTooLargeError(settings.upload_max_bytes)
            for event in reader.feed(chunk):
                await form.on(event)
        reader.close()
        await sink.close()
    except MultipartError as exc:
        await _discard(sink)
        raise ProblemError(422, str(exc)) from None
    except BaseException:
        await _discard(sink)
        raise
    if not form.seen:
        await _discard(sink)
        raise ProblemError(422, f"the multipart body has no {FILE_FIELD!r} part")
    return Received(
        stored_as=stored_as,
        filename=clean_filename(form.filename),
        size=sink.size,
        sha256=sink.sha256,
        head=sink.head,
    )


@dataclass
class _Form:
    """Routes the reader's events: the file part to disk, small fields nowhere."""

    sink: _Sink
    seen: bool = False
    in_file: bool = False
    filename: str | None = None
    field_bytes: int = 0

    async def on(self, event: Event) -> None:
        if isinstance(event, PartStart):
            self.in_file = event.name == FILE_FIELD
            self.field_bytes = 0
            if self.in_file:
                if self.seen:
                    raise MultipartError(f"only one {FILE_FIELD!r} part per upload")
                self.seen = True
                self.filename = event.filename
        elif isinstance(event, PartData):
            if self.in_file:
                await self.sink.write(event.data)
            else:
                self.field_bytes += len(event.data)
                if self.field_bytes > MAX_FIELD_BYTES:
                    raise MultipartError("a form field other than the file is too large")
        else:
            self.in_file = False


async def _discard(sink: _Sink) -> None:
    with contextlib.suppress(OSError):
        await sink.close()
    await asyncio.to_thread(remove_stored_path, sink.path)


def remove_stored_path(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def remove_stored(settings: UploadSettings, stored_as: str | None) -> None:
    if stored_as:
        remove_stored_path(path_of(settings, stored_as))


def purge_user_files(settings: UploadSettings, user_id: uuid.UUID) -> None:
    """Every stored body of the user, whatever became of its row."""
    shutil.rmtree(user_dir(settings, user_id), ignore_errors=True)
