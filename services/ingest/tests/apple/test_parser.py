"""The hardened reader: the DTD accepted; entities, external references, huge tokens refused."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from aurora_ingest.apple.errors import ExportError
from aurora_ingest.apple.parser import Limits, read_items


def items(data: bytes, limits: Limits | None = None) -> list[tuple[str, dict[str, str], list]]:  # type: ignore[type-arg]
    out = []
    for _, batch in read_items(io.BytesIO(data), limits=limits):
        out.extend(batch)
    return out


def refused(data: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(ExportError) as caught:
        items(data, limits)
    assert caught.value.status == 422
    return caught.value.detail


def test_the_internal_dtd_is_accepted_and_items_come_whole(ax: ModuleType) -> None:
    data = ax.document(ax.hr(ax.WATCH, "2024-01-01 08:00:00 +0100", 61))
    (first, second) = items(data)
    assert first[0] == "ExportDate"
    name, attrs, children = second
    assert name == "Record" and attrs["value"] == "61"
    assert children == [
        ("MetadataEntry", {"key": "HKMetadataKeyHeartRateMotionContext", "value": "2"}, [])
    ]


def test_skipped_subtrees_are_not_kept(ax: ModuleType) -> None:
    beats = (
        "<HeartRateVariabilityMetadataList>"
        + '<InstantaneousBeatsPerMinute bpm="60" time="8:00:00.00 AM"/>' * 3
        + "</HeartRateVariabilityMetadataList>"
    )
    data = ax.document(
        ax.record(
            "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
            "W",
            "2024-01-01 08:00:00 +0100",
            value=40,
            unit="ms",
            children=beats,
        )
    )
    batches = list(
        read_items(io.BytesIO(data), skip=frozenset({"HeartRateVariabilityMetadataList"}))
    )
    record = next(node for _, batch in batches for node in batch if node[0] == "Record")
    assert record[2] == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE HealthData [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<HealthData><Record type="x" sourceName="&lol3;" startDate="a" endDate="b"/></HealthData>"""


def test_billion_laughs_is_refused_at_the_declaration() -> None:
    assert "declares an entity" in refused(BILLION_LAUGHS)


def test_quadratic_blowup_is_refused() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE HealthData [<!ENTITY a "' + b"x" * 50_000 + b'">]>'
        b"<HealthData>" + b"&a;" * 1000 + b"</HealthData>"
    )
    assert "declares an entity" in refused(data)


def test_parameter_entities_are_refused() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE HealthData [<!ENTITY % p "x"> %p;]><HealthData/>'
    assert "declares an entity" in refused(data)


def test_xxe_file_is_refused_and_the_file_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE HealthData [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<HealthData><Record type="&x;" sourceName="a" startDate="a" endDate="b"/></HealthData>'
    ).encode()
    before = secret.stat().st_atime_ns
    detail = refused(data)
    assert "entity" in detail and "TOP-SECRET" not in detail
    assert secret.stat().st_atime_ns == before


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A local socket that must never see a connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    hits: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hits.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join(2)
    server.close()


def test_xxe_http_localhost_is_refused_without_a_connection(
    listener: tuple[int, list[object]],
) -> None:
    port, hits = listener
    for declaration in (
        f'<!ENTITY x SYSTEM "http://127.0.0.1:{port}/x">',
        f'<!ENTITY % x SYSTEM "http://127.0.0.1:{port}/x"> %x;',
    ):
        data = (
            f'<?xml version="1.0"?><!DOCTYPE HealthData [{declaration}]>'
            '<HealthData><ExportDate value="&x;"/></HealthData>'
        ).encode()
        assert "entity" in refused(data)
    data = (
        f'<?xml version="1.0"?><!DOCTYPE HealthData SYSTEM "http://127.0.0.1:{port}/h.dtd">'
        "<HealthData/>"
    ).encode()
    assert "external DTD" in refused(data)
    time.sleep(0.5)
    assert hits == []


def test_a_50_mb_attribute_is_refused_quickly() -> None:
    head = b'<?xml version="1.0"?><HealthData><Record type="x" value="'

    class Huge(io.RawIOBase):
        """50 MB of one attribute value, produced on demand (never held in memory)."""

        def __init__(self) -> None:
            self.sent = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            if self.sent == 0:
                self.sent = len(head)
                return head
            if self.sent > 50 << 20:
                return b'"/></HealthData>'
            self.sent += size
            return b"x" * size

    started = time.monotonic()
    stream = Huge()
    with pytest.raises(ExportError) as caught:
        for _ in read_items(stream):
            pass
    assert "longer than 1048576 bytes" in caught.value.detail
    assert time.monotonic() - started < 2
    assert stream.sent < 3 << 20  # refused after a few chunks, not after 50 MB


def test_huge_text_and_comments_are_refused() -> None:
    limits = Limits(max_token_bytes=4096, chunk_bytes=1024)
    text = b"<HealthData><ExportDate>" + b"y" * 10_000 + b"</ExportDate></HealthData>"
    assert "text or attribute value longer than 4096" in refused(text, limits)
    comment = b"<HealthData><!--" + b"<>" * 5_000 + b"--></HealthData>"
    assert "tag, comment or CDATA" in refused(comment, limits)


def test_malformed_xml_says_where() -> None:
    detail = refused(b'<?xml version="1.0"?>\n<HealthData>\n<Record type="x">\n</HealthData>')
    assert "not well-formed" in detail and "line 4" in detail


def test_wrong_root_empty_file_too_deep_and_too_big_items() -> None:
    assert "root element is <html>" in refused(b"<html/>")
    assert "is empty" in refused(b"")
    deep = b"<HealthData>" + b"<a>" * 20 + b"</a>" * 20 + b"</HealthData>"
    assert "deeper than 16" in refused(deep)
    many = b"<HealthData><Workout>" + b"<WorkoutEvent/>" * 50 + b"</Workout></HealthData>"
    assert "more than 10 elements" in refused(many, Limits(max_item_nodes=10))
