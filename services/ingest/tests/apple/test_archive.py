"""export.zip: junk ignored, traversal/symlink/overlap refused, bombs counted in bytes read."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from aurora_ingest.apple.archive import ArchiveLimits, open_export
from aurora_ingest.apple.errors import ExportError, ExportTooLargeError
from aurora_ingest.apple.gpx import parse_gpx


def write(tmp_path: Path, data: bytes, name: str = "export.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(path: Path, limits: ArchiveLimits | None = None) -> bytes:
    with open_export(path, limits) as export:
        chunks = []
        while chunk := export.xml.read(1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)


def test_the_iphone_zip_with_mac_junk_and_routes(ax: ModuleType, tmp_path: Path) -> None:
    xml = ax.document()
    route = ax.gpx([("2024-05-02T14:00:00Z", 37.1, -122.1, 10.0)])
    path = write(tmp_path, ax.zipped(xml, routes={"r.gpx": route}))
    with open_export(path) as export:
        assert export.xml.read(1 << 20) == xml and export.total_bytes == len(xml)
        assert export.route("/workout-routes/r.gpx") == route
        assert export.route("/workout-routes/missing.gpx") is None
        assert export.route("/../../etc/passwd") is None
    (point,) = parse_gpx(route)
    assert (point.lat, point.lng, point.altitude, point.at.isoformat()) == (
        37.1,
        -122.1,
        10.0,
        "2024-05-02T14:00:00+00:00",
    )


def test_a_localised_export_name_is_found_by_sniffing(ax: ModuleType, tmp_path: Path) -> None:
    xml = ax.document()
    path = write(tmp_path, ax.zipped(xml, name="apple_health_export/导出.xml"))
    assert read_all(path) == xml


def test_a_zip_without_an_export_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.xml", b"<notes/>")
    with pytest.raises(ExportError, match=r"no Apple Health export\.xml"):
        read_all(write(tmp_path, buffer.getvalue()))


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil.xml", "leaves its folder"),
        ("apple_health_export/../../evil", "leaves its folder"),
        ("/etc/passwd", "absolute path"),
        ("C:\\evil.xml", "absolute path"),
    ],
)
def test_traversal_entries_are_refused(ax: ModuleType, tmp_path: Path, name: str, why: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("apple_health_export/export.xml", ax.document())
        archive.writestr(name, b"x")
    with pytest.raises(ExportError, match=why):
        read_all(write(tmp_path, buffer.getvalue()))
    assert not (tmp_path.parent / "evil.xml").exists()


def test_symlink_entries_are_refused(ax: ModuleType, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("apple_health_export/export.xml", ax.document())
        link = zipfile.ZipInfo("apple_health_export/workout-routes/r.gpx")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(ExportError, match="symbolic link"):
        read_all(write(tmp_path, buffer.getvalue()))


def test_a_zip_bomb_is_refused_by_bytes_read(ax: ModuleType, tmp_path: Path) -> None:
    head = ax.document()[: -len(b"</HealthData>\n")]
    xml = head + b" " * (20 << 20) + b"</HealthData>\n"  # deflates more than 500:1
    path = write(tmp_path, ax.zipped(xml))
    with pytest.raises(ExportError, match="zip bomb"):
        read_all(path)
    with pytest.raises(ExportTooLargeError) as caught:
        read_all(path, ArchiveLimits(max_xml_bytes=1 << 20, max_ratio=10_000))
    assert caught.value.status == 413


def test_a_lying_declared_size_does_not_raise_the_cap(ax: ModuleType, tmp_path: Path) -> None:
    """The cap counts bytes really decompressed; a small declared file_size changes nothing."""
    xml = ax.document() + b" " * (3 << 20)
    data = bytearray(ax.zipped(xml, junk=False))
    path = write(tmp_path, bytes(data))
    with pytest.raises(ExportTooLargeError):
        read_all(path, ArchiveLimits(max_xml_bytes=1 << 20, max_ratio=10_000))


def test_overlapping_entries_are_refused(ax: ModuleType, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("apple_health_export/export.xml", ax.document())
        archive.writestr("b.txt", b"x" * 100)
    data = bytearray(buffer.getvalue())
    # point b.txt's central directory record at export.xml's local header (an overlap)
    central = data.rfind(b"PK\x01\x02")
    data[central + 42 : central + 46] = (0).to_bytes(4, "little")
    with pytest.raises(ExportError, match="overlaps"):
        read_all(write(tmp_path, bytes(data)))


def test_a_truncated_zip_is_a_clear_error(ax: ModuleType, tmp_path: Path) -> None:
    data = ax.zipped(ax.document() * 1)
    with pytest.raises(ExportError, match="truncated or damaged"):
        read_all(write(tmp_path, data[: len(data) // 2]))


def test_a_damaged_entry_is_a_clear_error(ax: ModuleType, tmp_path: Path) -> None:
    xml = b"".join(ax.document() for _ in range(1))
    data = bytearray(ax.zipped(xml + b" " * 200_000, junk=False))
    data[60:400] = b"\xff" * 340  # corrupt the deflate stream
    with pytest.raises(ExportError, match=r"damaged or truncated|not well-formed|Bad CRC"):
        read_all(write(tmp_path, bytes(data)))


def test_a_bare_xml_over_the_cap_is_413(ax: ModuleType, tmp_path: Path) -> None:
    path = write(tmp_path, ax.document(), "export.xml")
    with pytest.raises(ExportTooLargeError):
        read_all(path, ArchiveLimits(max_xml_bytes=10))
