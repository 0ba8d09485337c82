"""The parser child: its messages, its errors crossing with their status, and its end."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import ModuleType

import pytest

from aurora_ingest.apple.archive import ArchiveLimits
from aurora_ingest.apple.errors import ExportError, ExportTooLargeError
from aurora_ingest.apple.parse_process import Batch, Done, Opened, ParseJob, ParseProcess
from aurora_ingest.apple.parser import Limits

W = "Apple Watch"


def job(path: Path, archive: ArchiveLimits | None = None) -> ParseJob:
    return ParseJob(path, uuid.uuid4(), uuid.uuid4(), archive or ArchiveLimits(), Limits())


async def messages(process: ParseProcess) -> list[object]:
    out: list[object] = []
    try:
        while not isinstance(out[-1:] and out[-1], Done):
            out.append(await process.receive())
    finally:
        await process.stop()
    return out


async def test_an_export_arrives_as_opened_batches_and_done(ax: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(
        ax.document(*(ax.hr(W, f"2024-05-02 07:{m:02d}:00 -0700", 100 + m) for m in range(5)))
    )
    got = await messages(ParseProcess(job(path)))
    assert isinstance(got[0], Opened) and got[0].total_bytes == path.stat().st_size
    batches = [m for m in got if isinstance(m, Batch)]
    assert sum(b.samples for b in batches) == 5
    assert b"\thr\t" in b"".join(b.rows for b in batches)
    done = got[-1]
    assert isinstance(done, Done)
    assert done.records["HKQuantityTypeIdentifierHeartRate"] == 5
    assert done.bytes_parsed == path.stat().st_size and done.peak_rss_mb > 0


async def test_a_malformed_export_is_a_422_raised_in_the_parent(tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(b"<HealthData><Record></HealthData>")
    process = ParseProcess(job(path))
    with pytest.raises(ExportError) as caught:
        await messages(process)
    assert caught.value.status == 422 and "not well-formed" in caught.value.detail


async def test_a_size_cap_crosses_as_a_413(ax: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(ax.document(ax.hr(W, "2024-05-02 07:00:00 -0700", 100)))
    process = ParseProcess(job(path, ArchiveLimits(max_xml_bytes=16)))
    with pytest.raises(ExportTooLargeError) as caught:
        await messages(process)
    assert caught.value.status == 413


async def test_a_child_that_dies_is_an_error_not_a_hang(ax: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    path.write_bytes(ax.document(ax.hr(W, "2024-05-02 07:00:00 -0700", 100)))
    process = ParseProcess(job(path))
    process._process.kill()
    with pytest.raises(RuntimeError, match="parser process died"):
        for _ in range(5):  # a message may have left before the kill
            await process.receive()
    await process.stop()


async def test_stop_kills_a_child_still_parsing(ax: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    many = (ax.hr(W, f"2024-05-02 07:00:{s % 60:02d} -0700", 100) for s in range(200_000))
    path.write_bytes(ax.document(*many))
    process = ParseProcess(job(path))
    assert isinstance(await process.receive(), Opened)
    await process.stop()
    assert process._process.returncode is not None
    await process.stop()  # idempotent
