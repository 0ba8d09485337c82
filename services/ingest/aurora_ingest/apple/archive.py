"""Opening what the user uploaded: export.zip as the iPhone makes it, or a bare export.xml.

Checklist item 33: entries are only ever read through `ZipFile.open`, never
extracted, so a `../`, absolute or symlink entry could not write anywhere; such
entries are still refused, since no iPhone writes them. Decompressed bytes are
counted as they are read, never taken from the declared `file_size`, and capped
both in total and as a ratio to the entry's compressed size (zip bombs).
Python 3.11.7 predates the fix for overlapping entries (CVE-2024-0450), so
overlaps are checked here.
"""

from __future__ import annotations

import contextlib
import posixpath
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from aurora_ingest.apple.errors import ExportError, ExportTooLargeError

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
PREFERRED = "apple_health_export/export.xml"
_LOCAL_HEADER = 30
_SNIFF = 4096


@dataclass(frozen=True)
class ArchiveLimits:
    max_xml_bytes: int = 32 << 30
    max_route_bytes: int = 64 << 20
    max_entries: int = 200_000
    max_ratio: int = 100
    # Tiny entries compress extremely well; the ratio applies above this many bytes.
    ratio_floor: int = 1 << 20


class CappedReader:
    """Counts the bytes a stream really yields and refuses past the caps."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        name: str,
        cap: int,
        compressed: int | None,
        limits: ArchiveLimits,
    ) -> None:
        self.stream = stream
        self.name = name
        self.cap = cap
        self.ratio_cap = (
            max(compressed * limits.max_ratio, limits.ratio_floor)
            if compressed is not None
            else None
        )
        self.read_bytes = 0

    def read(self, size: int = -1, /) -> bytes:
        try:
            data = self.stream.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ExportError(f"{self.name} is damaged or truncated ({exc})") from None
        self.read_bytes += len(data)
        if self.read_bytes > self.cap:
            raise ExportTooLargeError(f"{self.name} decompresses to more than {self.cap} bytes")
        if self.ratio_cap is not None and self.read_bytes > self.ratio_cap:
            raise ExportError(
                f"{self.name} decompresses to more than {self.ratio_cap} bytes, over 100 times "
                "its compressed size: refused as a zip bomb"
            )
        return data


def _check_entry(info: zipfile.ZipInfo) -> None:
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ExportError(f"zip entry {name[:80]!r} has an absolute path and is refused")
    if ".." in parts:
        raise ExportError(f"zip entry {name[:80]!r} leaves its folder ('..') and is refused")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ExportError(f"zip entry {name[:80]!r} is a symbolic link and is refused")


def _check_layout(archive: zipfile.ZipFile, limits: ArchiveLimits) -> None:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise ExportError(f"the zip holds more than {limits.max_entries} entries")
    names: set[str] = set()
    for info in infos:
        _check_entry(info)
        if info.filename in names:
            raise ExportError(f"zip entry {info.filename[:80]!r} appears twice")
        names.add(info.filename)
    ordered = sorted(infos, key=lambda i: i.header_offset)
    end_of_data = getattr(archive, "start_dir", None)
    for current, following in zip(ordered, [*ordered[1:], None], strict=True):
        limit = following.header_offset if following is not None else end_of_data
        if (
            limit is not None
            and current.header_offset + _LOCAL_HEADER + current.compress_size > limit
        ):
            raise ExportError(
                f"zip entry {current.filename[:80]!r} overlaps the next one: refused as a zip bomb"
            )


def _is_candidate(name: str) -> bool:
    base = posixpath.basename(name)
    return (
        name.lower().endswith(".xml")
        and not name.startswith("__MACOSX/")
        and not base.startswith("._")
        and base.lower() != "export_cda.xml"
    )


class Export:
    """export.xml as a capped stream, plus the route files next to it when zipped."""

    def __init__(
        self,
        xml: CappedReader,
        total_bytes: int,
        archive: zipfile.ZipFile | None,
        folder: str,
        limits: ArchiveLimits,
    ) -> None:
        self.xml = xml
        self.total_bytes = total_bytes
        self._archive = archive
        self._folder = folder
        self._limits = limits

    def route(self, reference: str) -> bytes | None:
        """A `FileReference` path ("/workout-routes/x.gpx") looked up among the zip's
        names only: the path comes from the file and never touches the filesystem."""
        if self._archive is None:
            return None
        name = posixpath.join(self._folder, reference.lstrip("/"))
        try:
            info = self._archive.getinfo(name)
        except KeyError:
            return None
        with self._archive.open(info) as raw:
            reader = CappedReader(
                raw,  # type: ignore[arg-type]
                name=name,
                cap=self._limits.max_route_bytes,
                compressed=info.compress_size,
                limits=self._limits,
            )
            chunks = []
            while chunk := reader.read(1 << 16):
                chunks.append(chunk)
            return b"".join(chunks)


def _find_xml(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    names = {info.filename: info for info in archive.infolist()}
    if PREFERRED in names:
        return names[PREFERRED]
    # Localised exports rename export.xml (e.g. 导出.xml): sniff rather than trust names.
    for info in archive.infolist():
        if not _is_candidate(info.filename) or info.is_dir():
            continue
        with archive.open(info) as entry:
            head = CappedReader(
                entry,  # type: ignore[arg-type]
                name=info.filename,
                cap=_SNIFF,
                compressed=None,
                limits=ArchiveLimits(),
            ).read(_SNIFF)
        if b"<HealthData" in head or b"<!DOCTYPE HealthData" in head:
            return info
    raise ExportError("the zip holds no Apple Health export.xml")


@contextlib.contextmanager
def open_export(path: Path, limits: ArchiveLimits | None = None) -> Iterator[Export]:
    """The export inside `path`, whether a zip or a bare XML file."""
    limits = limits or ArchiveLimits()
    with path.open("rb") as handle:
        magic = handle.read(4)
        if magic not in ZIP_MAGIC:
            handle.seek(0)
            size = path.stat().st_size
            if size > limits.max_xml_bytes:
                raise ExportTooLargeError(f"export.xml is larger than {limits.max_xml_bytes} bytes")
            reader = CappedReader(
                handle, name="export.xml", cap=limits.max_xml_bytes, compressed=None, limits=limits
            )
            yield Export(reader, size, None, "", limits)
            return
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ExportError(f"the zip is truncated or damaged: {exc}") from None
        with archive:
            _check_layout(archive, limits)
            info = _find_xml(archive)
            try:
                entry = archive.open(info)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
                raise ExportError(f"{info.filename[:80]!r} cannot be read: {exc}") from None
            with entry:
                reader = CappedReader(
                    entry,  # type: ignore[arg-type]
                    name=info.filename,
                    cap=limits.max_xml_bytes,
                    compressed=info.compress_size,
                    limits=limits,
                )
                yield Export(
                    reader, info.file_size, archive, posixpath.dirname(info.filename), limits
                )
