"""The streaming multipart reader: same result whatever the chunking, bounded state."""

from __future__ import annotations

import pytest

from aurora_ingest.uploads.multipart import (
    MAX_HEADER_BYTES,
    Event,
    MultipartError,
    MultipartReader,
    PartData,
    PartEnd,
    PartStart,
    boundary_of,
    parse_header,
)
from aurora_ingest.uploads.storage import clean_filename

BOUNDARY = b"xYz-42"
FILE = bytes(range(256)) * 3 + b"\r\n--xYz-4 almost a boundary\r\n"
BODY = (
    b"preamble to ignore\r\n"
    b"--xYz-42\r\n"
    b'Content-Disposition: form-data; name="note"\r\n\r\n'
    b"hello\r\n"
    b"--xYz-42\r\n"
    b'Content-Disposition: form-data; name="file"; filename="a \\"b\\"; c.fit"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n" + FILE + b"\r\n--xYz-42--\r\nepilogue"
)


def parts(events: list[Event]) -> list[tuple[PartStart, bytes]]:
    out: list[tuple[PartStart, bytes]] = []
    current: PartStart | None = None
    data = b""
    for event in events:
        if isinstance(event, PartStart):
            current, data = event, b""
        elif isinstance(event, PartData):
            data += event.data
        elif isinstance(event, PartEnd):
            assert current is not None
            out.append((current, data))
    return out


def read(body: bytes, size: int) -> list[Event]:
    reader = MultipartReader(BOUNDARY)
    events: list[Event] = []
    for at in range(0, len(body), size):
        events += reader.feed(body[at : at + size])
    events += reader.close()
    return events


@pytest.mark.parametrize("size", [1, 2, 3, 7, 10, 64, 1000, len(BODY)])
def test_any_chunking_gives_the_same_parts(size: int) -> None:
    [(note, text), (file, data)] = parts(read(BODY, size))
    assert (note.name, note.filename, text) == ("note", None, b"hello")
    assert (file.name, file.filename, file.content_type) == (
        "file",
        'a "b"; c.fit',
        "application/octet-stream",
    )
    assert data == FILE


def test_a_body_without_its_closing_boundary_is_refused() -> None:
    with pytest.raises(MultipartError, match="ended before its closing boundary"):
        read(BODY[: BODY.index(b"\r\n--xYz-42--")], 100)


def test_endless_part_headers_are_refused_early() -> None:
    reader = MultipartReader(BOUNDARY)
    reader.feed(b"--xYz-42\r\n")
    with pytest.raises(MultipartError, match="headers are too large"):
        reader.feed(b"X-Filler: " + b"a" * (MAX_HEADER_BYTES + 10))


def test_a_part_without_disposition_is_refused() -> None:
    with pytest.raises(MultipartError, match="no Content-Disposition"):
        read(b"--xYz-42\r\nContent-Type: text/plain\r\n\r\nx\r\n--xYz-42--\r\n", 5)


def test_memory_stays_bounded_on_a_long_part() -> None:
    reader = MultipartReader(BOUNDARY)
    reader.feed(b'--xYz-42\r\nContent-Disposition: form-data; name="file"\r\n\r\n')
    for _ in range(100):
        reader.feed(b"\0" * 10_000)
        assert len(reader._buffer) < len(b"\r\n--xYz-42")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "must be multipart/form-data"),
        ("application/json", "must be multipart/form-data"),
        ("multipart/form-data", "boundary of 1 to 70"),
        ("multipart/form-data; boundary=" + "b" * 71, "boundary of 1 to 70"),
    ],
)
def test_content_types_without_a_usable_boundary_are_refused(
    value: str | None, reason: str
) -> None:
    with pytest.raises(MultipartError, match=reason):
        boundary_of(value)


def test_boundaries_may_be_quoted() -> None:
    assert boundary_of('Multipart/Form-Data; charset=utf-8; boundary="a b;c"') == b"a b;c"
    assert parse_header('form-data; name=file; filename="x\\\\y"') == (
        "form-data",
        {"name": "file", "filename": "x\\y"},
    )


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\ride.fit", "ride.fit"),
        ("a\x00b\nc.fit", "abc.fit"),
        ("", "upload"),
        (None, "upload"),
        ("x" * 300, "x" * 255),
    ],
)
def test_client_file_names_are_only_displayed_cleaned(given: str | None, shown: str) -> None:
    assert clean_filename(given) == shown
