"""Bounded fuzz of the decoder: only FitDecodeError escapes, and no input takes over 1 s.

Inputs are valid generated files with bytes flipped, inserted, deleted or
truncated (so the fuzzer gets past the CRC and header checks), CRC-repaired
mutations (so it reaches the record parser), and raw random bytes.
"""

from __future__ import annotations

import struct
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurora_ingest.fit.decoder import decode
from aurora_ingest.fit.messages import FitDecodeError

from .encoder import SessionSpec, activity_file, crc16

SEEDS = [
    activity_file(sessions=[SessionSpec(seconds=4)]),
    activity_file(
        sessions=[SessionSpec("cycling", "road", 3)], hr_messages=True, developer_field=True
    ),
    activity_file(sessions=[SessionSpec(seconds=2)], hrv=True, header_size=12),
]


def _repair(data: bytes) -> bytes:
    """Rewrite header data size and both CRCs so the mutation reaches the record parser."""
    if len(data) < 16 or data[0] != 14:
        return data
    body = data[14:-2]
    head = data[:4] + struct.pack("<I", len(body)) + data[8:12]
    head += struct.pack("<H", crc16(head))
    content = head + body
    return content + struct.pack("<H", crc16(content))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "set"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x40, 0x60, 0x80, 0xE0, 0x7F]))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return _repair(bytes(data)) if draw(st.booleans()) else bytes(data)


def _check(data: bytes) -> None:
    started = time.perf_counter()
    try:
        decode(data, max_messages=100_000)
    except FitDecodeError as err:
        assert err.reason
    assert time.perf_counter() - started < 1.0


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_files_only_raise_fit_decode_error(data: bytes) -> None:
    _check(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_only_raise_fit_decode_error(data: bytes) -> None:
    _check(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=400))
def test_random_bodies_behind_a_valid_header_and_crc(body: bytes) -> None:
    head = struct.pack("<BBHI4s", 14, 0x20, 2132, len(body), b".FIT")
    head += struct.pack("<H", crc16(head))
    content = head + body
    _check(content + struct.pack("<H", crc16(content)))
