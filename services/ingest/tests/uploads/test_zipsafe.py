"""Reading untrusted zips: names, symlinks, ratios and caps on bytes actually read."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from aurora_ingest.uploads.zipsafe import (
    EntryRefusedError,
    ZipRefusedError,
    open_archive,
    read_entry,
    spool_entry,
    unsafe_name,
)

from .conftest import zip_of


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a/b/ride.fit", None),
        ("..ride.fit", None),
        ("../ride.fit", "unsafe path: '..' in the entry name"),
        ("a/../../ride.fit", "unsafe path: '..' in the entry name"),
        ("a\\..\\ride.fit", "unsafe path: '..' in the entry name"),
        ("/etc/ride.fit", "unsafe path: absolute entry name"),
        ("\\\\server\\ride.fit", "unsafe path: absolute entry name"),
        ("C:ride.fit", "unsafe path: absolute entry name"),
        ("a\x00.fit", "unsafe path: NUL in the entry name"),
    ],
)
def test_entry_names_that_could_escape_are_flagged(name: str, reason: str | None) -> None:
    assert unsafe_name(name) == reason


def test_symlink_entries_are_never_read() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("ride.fit")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    archive, [entry] = open_archive(io.BytesIO(buffer.getvalue()), max_entries=10)
    assert entry.refusal == "symbolic links are not read"
    with pytest.raises(EntryRefusedError, match="symbolic links"):
        read_entry(archive, entry, max_bytes=1024, max_ratio=100)


def test_a_bomb_stops_at_the_ratio_without_reading_it_all() -> None:
    archive, [entry] = open_archive(
        io.BytesIO(zip_of({"bomb.fit": b"\0" * (50 * 1024 * 1024)})), max_entries=10
    )
    assert entry.declared_size == 50 * 1024 * 1024
    with pytest.raises(EntryRefusedError, match="more than 100 times"):
        read_entry(archive, entry, max_bytes=1024 * 1024 * 1024, max_ratio=100)


def test_the_entry_cap_counts_bytes_produced() -> None:
    archive, [entry] = open_archive(io.BytesIO(zip_of({"a.fit": b"ab" * 100_000})), max_entries=1)
    with pytest.raises(EntryRefusedError, match="expands beyond 1000 bytes"):
        read_entry(archive, entry, max_bytes=1000, max_ratio=10**6)
    assert read_entry(archive, entry, max_bytes=200_000, max_ratio=10**6) == b"ab" * 100_000


def test_not_a_zip_is_refused() -> None:
    with pytest.raises(ZipRefusedError, match="not a readable zip archive"):
        open_archive(io.BytesIO(b"PK\3\4 but nothing else"), max_entries=10)


def test_a_small_entry_is_spooled_in_memory(tmp_path: Path) -> None:
    archive, [entry] = open_archive(io.BytesIO(zip_of({"a.zip": b"ab" * 1000})), max_entries=1)
    spool = spool_entry(
        archive, entry, max_bytes=10_000, max_ratio=10**6, directory=tmp_path, memory_bytes=4096
    )
    assert isinstance(spool, io.BytesIO)
    assert spool.read() == b"ab" * 1000


def test_a_large_entry_is_spooled_to_an_unnamed_file_in_the_directory(tmp_path: Path) -> None:
    data = os.urandom(600 * 1024)
    archive, [entry] = open_archive(io.BytesIO(zip_of({"a.zip": data})), max_entries=1)
    spool = spool_entry(
        archive, entry, max_bytes=10**7, max_ratio=100, directory=tmp_path, memory_bytes=4096
    )
    try:
        assert not isinstance(spool, io.BytesIO)
        on_disk = os.fstat(spool.fileno())
        assert on_disk.st_dev == tmp_path.stat().st_dev
        assert on_disk.st_nlink == 0  # no name: nothing is left behind, even after a crash
        assert list(tmp_path.iterdir()) == []
        assert spool.read() == data
    finally:
        spool.close()


def test_spooling_keeps_the_caps(tmp_path: Path) -> None:
    archive, [entry] = open_archive(
        io.BytesIO(zip_of({"bomb.zip": b"\0" * (8 * 1024 * 1024)})), max_entries=1
    )
    with pytest.raises(EntryRefusedError, match="more than 100 times") as ratio:
        spool_entry(
            archive, entry, max_bytes=10**9, max_ratio=100, directory=tmp_path, memory_bytes=0
        )
    assert not ratio.value.too_large
    with pytest.raises(EntryRefusedError, match="expands beyond 1000 bytes") as cap:
        spool_entry(
            archive, entry, max_bytes=1000, max_ratio=10**6, directory=tmp_path, memory_bytes=0
        )
    assert cap.value.too_large
