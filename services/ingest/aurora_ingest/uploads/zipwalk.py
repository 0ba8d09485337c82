"""Walking an uploaded zip, and the zips inside it, one file (one transaction) at a time.

A Garmin Connect bulk export keeps its activities in nested archives
(`DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip`), so a `.zip`
entry of the upload is opened, one level deep only, under the same rules as
the upload itself (uploads/zipsafe.py): its bytes, and then its entries' bytes,
count against the same total; its directory is checked for overlaps and its
entry count capped; its unsafe names are refused. A zip inside a nested zip is
skipped by its name, never read.

Each file inside a nested archive is its own result, named `<archive>/<file>`,
at position (archive position + 1) x NESTED_STRIDE + its index, so results stay
the resume point without any new column. The archive itself gets a result too,
written after its last file: it tells a resumed run that the archive is done
(without reading it again), holds the archive's own bytes for the total, and
keeps `files_done` equal to the number of results. Opening an archive raises
`files_total` by its file count, in the transaction of its first file's result,
so the raise is applied exactly once whatever run commits it.
"""

from __future__ import annotations

import asyncio
import time
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final, Literal

from aurora_ingest.jobs.service import JobRescheduled
from aurora_ingest.uploads import storage
from aurora_ingest.uploads.jobstate import Judge, Outcome, Record, Snapshot
from aurora_ingest.uploads.settings import UploadSettings
from aurora_ingest.uploads.zipsafe import (
    Entry,
    EntryRefusedError,
    ZipRefusedError,
    open_archive,
    read_entry,
    spool_entry,
)

if TYPE_CHECKING:
    from aurora_ingest.providers.kit import ProviderKit

NESTED_STRIDE: Final = 1 << 16
TOO_DEEP: Final = "a zip inside a nested zip is not opened (one level of nesting only)"
NOT_FIT: Final = "not a .fit file"


def nested_position(archive_position: int, entry_position: int) -> int:
    return (archive_position + 1) * NESTED_STRIDE + entry_position


def classify(entry: Entry, *, nested: bool) -> Outcome | Literal["fit", "zip"]:
    """What to do with an entry, judged by its name alone (nothing is read here)."""
    base = entry.name.replace("\\", "/").rsplit("/", 1)[-1]
    lower = base.lower()
    if entry.name.startswith("__MACOSX/") or base.startswith("._"):
        return Outcome("skipped", "macOS metadata, not a file of the export")
    if lower.endswith(".zip"):
        if nested:
            return Outcome("skipped", TOO_DEEP)
    elif not lower.endswith(".fit"):
        return Outcome("skipped", NOT_FIT)
    if entry.refusal is not None:
        return Outcome("rejected", entry.refusal)
    return "zip" if lower.endswith(".zip") else "fit"


@dataclass
class ZipWalk:
    """One run over the upload's archive; `read_total` and `files_total` carry over
    from earlier runs through the snapshot."""

    kit: ProviderKit
    snap: Snapshot
    settings: UploadSettings
    deadline: float
    judge: Judge
    record: Record
    read_total: int = 0
    files_total: int = 0
    judged: int = 0

    def __post_init__(self) -> None:
        self.read_total = self.snap.bytes_read
        self.files_total = self.snap.files_total

    def _check_deadline(self) -> None:
        # At least one result per run, so even a tiny slice always makes progress
        # (opening a nested archive is not one: its first file is).
        if self.judged and time.monotonic() > self.deadline:
            raise JobRescheduled(self.kit.clock())

    def _cap(self, per_entry: int) -> int:
        return min(per_entry, self.settings.upload_zip_max_total_bytes - self.read_total)

    def _over_total(self, exc: EntryRefusedError, cap: int, per_entry: int) -> None:
        """The entry ran into what is left of the total, not its own cap: the archive is refused."""
        if exc.too_large and cap < per_entry:
            raise ZipRefusedError(
                "the archive expands beyond "
                f"{self.settings.upload_zip_max_total_bytes} bytes in total"
            ) from None

    async def run(self, archive: zipfile.ZipFile, entries: list[Entry]) -> None:
        for entry in entries:
            if entry.position in self.snap.done:
                continue
            self._check_deadline()
            kind = classify(entry, nested=False)
            if kind == "zip":
                await self._nested(archive, entry)
            else:
                await self._file(
                    archive,
                    entry,
                    kind,
                    position=entry.position,
                    name=entry.name,
                    progress_bytes=entry.compress_size,
                )

    async def _file(
        self,
        archive: zipfile.ZipFile,
        entry: Entry,
        kind: Outcome | Literal["fit", "zip"],
        *,
        position: int,
        name: str,
        progress_bytes: int,
        files_total_delta: int = 0,
    ) -> None:
        data: bytes | None = None
        size = 0
        if isinstance(kind, Outcome):
            outcome = kind
        else:
            per_entry = self.settings.upload_zip_max_entry_bytes
            cap = self._cap(per_entry)
            try:
                data = await asyncio.to_thread(
                    read_entry,
                    archive,
                    entry,
                    max_bytes=cap,
                    max_ratio=self.settings.upload_zip_max_ratio,
                )
            except EntryRefusedError as exc:
                self._over_total(exc, cap, per_entry)
                outcome = Outcome("rejected", exc.reason)
            else:
                size = len(data)
                self.read_total += size
                outcome = await self.judge(self.kit, self.snap.user_id, data)
        await self.record(
            self.kit,
            self.snap,
            position=position,
            name=name,
            size=size,
            progress_bytes=progress_bytes,
            outcome=outcome,
            data=data,
            files_total_delta=files_total_delta,
        )
        self.judged += 1
        self.files_total += files_total_delta

    async def _archive_result(
        self, entry: Entry, outcome: Outcome, size: int = 0, progress_bytes: int | None = None
    ) -> None:
        """The nested archive's own result: after its files, or instead of them."""
        await self.record(
            self.kit,
            self.snap,
            position=entry.position,
            name=entry.name,
            size=size,
            progress_bytes=entry.compress_size if progress_bytes is None else progress_bytes,
            outcome=outcome,
            data=None,
        )
        self.judged += 1

    async def _nested(self, outer: zipfile.ZipFile, entry: Entry) -> None:
        if self.snap.stored_as is None:
            raise ZipRefusedError("the uploaded file is no longer stored")
        per_archive = self.settings.upload_zip_max_nested_bytes
        cap = self._cap(per_archive)
        directory = storage.path_of(self.settings, self.snap.stored_as).parent
        try:
            spool = await asyncio.to_thread(
                spool_entry,
                outer,
                entry,
                max_bytes=cap,
                max_ratio=self.settings.upload_zip_max_ratio,
                directory=directory,
                memory_bytes=self.settings.upload_zip_nested_memory_bytes,
            )
        except EntryRefusedError as exc:
            self._over_total(exc, cap, per_archive)
            await self._archive_result(entry, Outcome("rejected", exc.reason))
            return
        try:
            await self._open_nested(entry, spool)
        finally:
            await asyncio.to_thread(spool.close)

    async def _open_nested(self, entry: Entry, spool: BinaryIO) -> None:
        size = await asyncio.to_thread(_size_of, spool)
        self.read_total += size
        try:
            inner, entries = await asyncio.to_thread(
                open_archive, spool, max_entries=self.settings.upload_zip_max_entries
            )
        except ZipRefusedError as exc:
            await self._archive_result(entry, Outcome("rejected", exc.reason), size)
            return
        try:
            await self._nested_files(entry, size, inner, entries)
        finally:
            inner.close()

    async def _nested_files(
        self, archive_entry: Entry, size: int, inner: zipfile.ZipFile, entries: list[Entry]
    ) -> None:
        files = len(entries)
        if not files:
            skipped = Outcome("skipped", "the nested archive holds no file")
            await self._archive_result(archive_entry, skipped, size)
            return
        positions = [nested_position(archive_entry.position, e.position) for e in entries]
        delta = 0 if self.snap.done.intersection(positions) else files
        limit = self.settings.upload_zip_max_entries
        if self.files_total + delta > limit:
            too_many = f"with its {files} files the upload would hold more than {limit} files"
            await self._archive_result(archive_entry, Outcome("rejected", too_many), size)
            return
        # The archive's progress bytes are shared out by its entries' compressed sizes.
        shares = [archive_entry.compress_size * e.compress_size // max(size, 1) for e in entries]
        for entry, position, share in zip(entries, positions, shares, strict=True):
            if position in self.snap.done:
                continue
            self._check_deadline()
            await self._file(
                inner,
                entry,
                classify(entry, nested=True),
                position=position,
                name=f"{archive_entry.name}/{entry.name}",
                progress_bytes=share,
                files_total_delta=delta,
            )
            delta = 0
        opened = Outcome(
            "skipped", f"a nested archive, opened: its {files} files are listed under its name"
        )
        rest = max(archive_entry.compress_size - sum(shares), 0)
        await self._archive_result(archive_entry, opened, size, rest)


def _size_of(file: BinaryIO) -> int:
    size = file.seek(0, 2)
    file.seek(0)
    return size
