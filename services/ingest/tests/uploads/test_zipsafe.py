"""Reading untrusted zips: names, symlinks, ratios and caps on bytes actually read."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from aurora_ingest.uploads.zipsafe import (
    EntryRefusedError,
    ZipRefusedError,
    open_archive,
    read_entry,
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
