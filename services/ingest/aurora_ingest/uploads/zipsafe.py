"""Reading zip archives without trusting them (checklist 33).

Nothing a zip declares is believed: entries are read with a cap on the bytes
actually produced (a bomb declares whatever it likes), the compression ratio is
measured on those bytes, entries whose data overlap (the "quoted-overlap" bomb,
many entries sharing one compressed stream) refuse the archive, and names that
could escape a directory (`../`, absolute, drive letters) or are symlinks are
never read at all. Nothing is ever extracted under its own name: entries are
read into memory, bounded by the entry cap, and a nested archive (which can be
far larger than one activity) is spooled to an anonymous temporary file once it
outgrows a small memory budget.
"""

from __future__ import annotations

import io
import itertools
import lzma
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

READ_CHUNK: Final = 256 * 1024
LOCAL_HEADER_SIZE: Final = 30
# An entry may always expand to this much, whatever its ratio: harmless, and tiny
# files (a few hundred bytes compressed) legitimately exceed ratios of 100.
RATIO_FLOOR_BYTES: Final = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


class ZipRefusedError(ValueError):
    """The archive as a whole is refused; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EntryRefusedError(ValueError):
    """One entry is refused; the others may still be read. `too_large`: it produced
    more than the byte cap it was read under (the caller may have lowered that cap
    to what is left of an archive's total)."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


@dataclass(frozen=True)
class Entry:
    position: int
    name: str
    compress_size: int
    declared_size: int
    info: zipfile.ZipInfo
    # Why the entry must not be read (unsafe name, symlink, encrypted), else None.
    refusal: str | None


def unsafe_name(name: str) -> str | None:
    """Why an entry name could escape an extraction directory, or None."""
    if "\x00" in name:
        return "unsafe path: NUL in the entry name"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "unsafe path: absolute entry name"
    if ".." in re.split(r"[/\\]", name):
        return "unsafe path: '..' in the entry name"
    return None


def _refusal(info: zipfile.ZipInfo) -> str | None:
    if (reason := unsafe_name(info.filename)) is not None:
        return reason
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_ISLNK(mode):
        return "symbolic links are not read"
    if info.flag_bits & 0x1:
        return "encrypted entries are not supported"
    return None


def open_archive(file: BinaryIO, *, max_entries: int) -> tuple[zipfile.ZipFile, list[Entry]]:
    """The archive and its file entries (directories left out); only the central
    directory is read here."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ZipRefusedError(f"not a readable zip archive: {exc}") from None
    try:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise ZipRefusedError(f"the archive has {len(infos)} entries, more than {max_entries}")
        _check_layout(infos, getattr(archive, "start_dir", None))
        entries = [
            Entry(
                position=i,
                name=info.filename,
                compress_size=info.compress_size,
                declared_size=info.file_size,
                info=info,
                refusal=_refusal(info),
            )
            for i, info in enumerate(infos)
            if not info.is_dir()
        ]
    except BaseException:
        archive.close()
        raise
    return archive, entries


def _check_layout(infos: list[zipfile.ZipInfo], central_directory: int | None) -> None:
    """Every entry's data ends before the next entry starts, and before the directory."""
    spans = sorted(
        (info.header_offset, info.header_offset + LOCAL_HEADER_SIZE + info.compress_size)
        for info in infos
    )
    for (_, end), (next_start, _) in itertools.pairwise(spans):
        if next_start < end:
            raise ZipRefusedError("overlapping entries (a zip bomb)")
    if spans and central_directory is not None and spans[-1][1] > central_directory:
        raise ZipRefusedError("an entry overlaps the central directory")


def _chunks(
    archive: zipfile.ZipFile, entry: Entry, *, max_bytes: int, max_ratio: int
) -> Iterator[bytes]:
    """The entry's bytes as they are inflated, stopped at the first byte over a cap."""
    if entry.refusal is not None:
        raise EntryRefusedError(entry.refusal)
    ratio_cap = max(entry.compress_size * max_ratio, RATIO_FLOOR_BYTES)
    produced = 0
    try:
        with archive.open(entry.info) as stream:
            while chunk := stream.read(READ_CHUNK):
                produced += len(chunk)
                if produced > max_bytes:
                    raise EntryRefusedError(
                        f"the entry expands beyond {max_bytes} bytes", too_large=True
                    )
                if produced > ratio_cap:
                    raise EntryRefusedError(
                        f"the entry expands more than {max_ratio} times (a zip bomb)"
                    )
                yield chunk
    except EntryRefusedError:
        raise
    except (
        zipfile.BadZipFile,
        EOFError,
        OSError,
        zlib.error,
        lzma.LZMAError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise EntryRefusedError(f"unreadable zip entry: {exc}") from None
    if produced != entry.declared_size:
        raise EntryRefusedError(
            f"the entry holds {produced} bytes but declares {entry.declared_size}"
        )


def read_entry(archive: zipfile.ZipFile, entry: Entry, *, max_bytes: int, max_ratio: int) -> bytes:
    """The entry's bytes, read under caps on what is actually produced."""
    return b"".join(_chunks(archive, entry, max_bytes=max_bytes, max_ratio=max_ratio))


def spool_entry(
    archive: zipfile.ZipFile,
    entry: Entry,
    *,
    max_bytes: int,
    max_ratio: int,
    directory: Path,
    memory_bytes: int,
) -> BinaryIO:
    """The entry as a seekable file positioned at 0, read under the same caps.

    Up to `memory_bytes` it stays in memory; past that it moves to a temporary file
    in `directory` that has no name on disk (unlinked at creation), so nothing is
    left behind even if the process dies. The caller closes it.
    """
    spool: BinaryIO = io.BytesIO()
    try:
        size = 0
        for chunk in _chunks(archive, entry, max_bytes=max_bytes, max_ratio=max_ratio):
            size += len(chunk)
            if size > memory_bytes and isinstance(spool, io.BytesIO):
                # Returned open: the caller closes it (and closing deletes it).
                disk = tempfile.TemporaryFile(dir=directory, prefix=".nested-")  # noqa: SIM115
                disk.write(spool.getvalue())
                spool.close()
                spool = disk
            spool.write(chunk)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool
