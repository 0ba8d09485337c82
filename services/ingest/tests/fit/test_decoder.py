"""The decoder on FIT files the tests build themselves (always on)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from aurora_ingest.fit.decoder import decode
from aurora_ingest.fit.messages import FitDecodeError, FitFile

from .encoder import (
    BYTE,
    FLOAT32,
    STRING,
    UINT8,
    UINT16,
    UINT32,
    FitEncoder,
    SessionSpec,
    activity_file,
    chain,
    fit_seconds,
    reference_decode,
)

T0 = datetime(2024, 5, 1, 7, 0, tzinfo=UTC)


def by_name(fit: FitFile, name: str) -> list[dict[str, object]]:
    return [m.fields for m in fit.messages if m.name == name]


def test_activity_values_round_trip_and_equal_fitdecode() -> None:
    data = activity_file(
        start=T0,
        sessions=[SessionSpec("cycling", "road", 30), SessionSpec("running", "trail", 20)],
        hrv=True,
    )
    fit = decode(data)
    assert fit == reference_decode(data)
    assert fit.chained == 1
    records = by_name(fit, "record")
    assert len(records) == 50
    first = records[0]
    assert first["timestamp"] == T0
    assert first["heart_rate"] == 120 and first["power"] == 200 and first["cadence"] == 85
    assert first["distance"] == 3.0 and first["enhanced_speed"] == 3.0
    assert first["position_lat"] == 498_000_000  # semicircles, as fitdecode gives them
    assert records[-1]["timestamp"] == T0 + timedelta(seconds=49)
    sessions = by_name(fit, "session")
    assert [(s["sport"], s["sub_sport"], s["total_elapsed_time"]) for s in sessions] == [
        ("cycling", "road", 30.0),
        ("running", "trail", 20.0),
    ]
    file_id = by_name(fit, "file_id")[0]
    assert file_id["type"] == "activity" and file_id["manufacturer"] == "garmin"
    assert file_id["garmin_product"] == "edge_530"  # the product subfield, resolved by manufacturer
    assert by_name(fit, "hrv")[0]["time"] == (0.5, 0.52, None, None, None)
    activity = by_name(fit, "activity")[0]
    assert activity["local_timestamp"] == T0 + timedelta(seconds=50 + 3600)


def test_hr_messages_and_developer_fields() -> None:
    data = activity_file(
        start=T0, sessions=[SessionSpec(seconds=10)], hr_messages=True, developer_field=True
    )
    fit = decode(data)
    assert fit == reference_decode(data)
    hr = by_name(fit, "hr")
    assert [len(m["filtered_bpm"]) for m in hr] == [8, 2]  # type: ignore[arg-type]
    bpm = [b for m in hr for b in m["filtered_bpm"]]  # type: ignore[attr-defined]
    assert bpm == list(range(120, 130))
    record = next(m for m in fit.messages if m.name == "record")
    assert record.developer_fields == {"Form Power": 250}
    assert "heart_rate" not in record.fields
    description = by_name(fit, "field_description")[0]
    assert description["field_name"] == "Form Power" and description["fit_base_type_id"] == "uint16"


def test_compressed_timestamps_roll_over_32_seconds() -> None:
    enc = FitEncoder()
    base = fit_seconds(T0)
    enc.message("record", {"timestamp": T0, "heart_rate": 100})
    enc.define(1, 20, [(3, 1, UINT8)])  # record: heart_rate only
    for step in (5, 20, 31, 40, 70):  # offsets wrap every 32 s
        enc.data(1, [100 + step], time_offset=(base + step) & 0x1F)
    data = enc.build()
    fit = decode(data)
    assert fit == reference_decode(data)
    stamps = [f["timestamp"] for f in by_name(fit, "record")]
    assert stamps == [T0 + timedelta(seconds=s) for s in (0, 5, 20, 31, 40, 70)]


def test_device_relative_timestamps_stay_integers() -> None:
    enc = FitEncoder()
    enc.message("record", {"timestamp": 1000, "heart_rate": 90})
    fit = decode(enc.build())
    assert by_name(fit, "record")[0]["timestamp"] == 1000


def test_compressed_speed_distance_expands_with_accumulation() -> None:
    enc = FitEncoder(header_size=12)
    enc.define(0, 20, [(253, 4, UINT32), (8, 3, BYTE)])
    base = fit_seconds(T0)
    distance = 0
    for second in range(4):
        distance = (distance + 4000) & 0xFFF  # 12-bit distance in 1/16 m, wrapping
        speed = 250  # 2.5 m/s in 1/100
        packed = speed | (distance << 12)
        enc.data(0, [base + second, list(packed.to_bytes(3, "little"))])
    data = enc.build()
    fit = decode(data)
    assert fit == reference_decode(data)
    records = by_name(fit, "record")
    assert [r["speed"] for r in records] == [2.5] * 4
    assert [r["distance"] for r in records] == [
        250.0,
        500.0,
        750.0,
        1000.0,
    ]  # accumulated past the wrap


def test_component_expansion_and_explicit_field_precedence() -> None:
    enc = FitEncoder()
    # speed (uint16, expands into enhanced_speed) plus an explicit, different enhanced_speed.
    enc.message("record", {"timestamp": T0, "speed": 2.0, "enhanced_speed": 5.0})
    enc.message("record", {"timestamp": T0, "speed": 2.0, "enhanced_speed": None})
    enc.message("record", {"timestamp": T0, "speed": 3.0})
    data = enc.build()
    fit = decode(data)
    assert fit == reference_decode(data)
    assert [r["enhanced_speed"] for r in by_name(fit, "record")] == [5.0, 2.0, 3.0]


def test_big_endian_strings_arrays_and_floats() -> None:
    enc = FitEncoder(big_endian=True)
    enc.message(
        "file_id", {"type": "activity", "manufacturer": "development", "product_name": "Bench Unit"}
    )
    enc.define(1, 20, [(253, 4, UINT32), (7, 2, UINT16), (200, 4, FLOAT32), (201, 6, STRING)])
    enc.data(1, [fit_seconds(T0), 250, 1.5, "abc"])
    enc.data(1, [fit_seconds(T0), None, None, ""])
    data = enc.build()
    fit = decode(data)
    assert fit == reference_decode(data)
    first, second = by_name(fit, "record")
    assert first["power"] == 250 and first["unknown_200"] == 1.5 and first["unknown_201"] == "abc"
    assert (
        second["power"] is None and second["unknown_200"] is None and second["unknown_201"] is None
    )
    assert by_name(fit, "file_id")[0]["product_name"] == "Bench Unit"


def test_chained_files_reset_their_definitions() -> None:
    one = activity_file(start=T0, sessions=[SessionSpec(seconds=5)], header_size=12)
    two = activity_file(start=T0 + timedelta(hours=1), sessions=[SessionSpec(seconds=7)])
    fit = decode(chain(one, two))
    assert fit.chained == 2
    assert len(by_name(fit, "record")) == 12
    assert fit == reference_decode(chain(one, two))
    # A definition does not survive into the next file of the chain.
    orphan = FitEncoder()
    orphan.define(0, 20, [(3, 1, UINT8)])
    orphan.body.clear()
    orphan.raw(b"\x00\x64")
    with pytest.raises(FitDecodeError, match="local message 0, which no definition declared"):
        decode(chain(one, orphan.build()))


def test_zero_header_crc_is_allowed() -> None:
    enc = FitEncoder(header_crc=False)
    enc.message("record", {"timestamp": T0, "heart_rate": 60})
    assert decode(enc.build()).messages[0].fields["heart_rate"] == 60


def test_memoryview_input() -> None:
    data = activity_file(sessions=[SessionSpec(seconds=3)])
    assert decode(memoryview(data)) == decode(data)


def _tiny() -> FitEncoder:
    enc = FitEncoder()
    enc.message("record", {"timestamp": T0, "heart_rate": 60})
    return enc


def _with_header_crc(data: bytes) -> bytes:
    from .encoder import crc16

    return data[:12] + struct.pack("<H", crc16(data[:12])) + data[14:]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b".FIT", "truncated FIT header"),
        (b"\x0e\x20" + b"\x00" * 12, "no '.FIT' signature"),
        (_with_header_crc(b"\x0d" + _tiny().build()[1:]), "unsupported header size 13"),
        (_tiny().build()[:12] + b"\x01\x02" + _tiny().build()[14:], "header CRC mismatch"),
        (_tiny().build(crc=0x1234), "file CRC mismatch"),
        (_tiny().build()[:-1], "truncated file"),
        (_tiny().build()[:-5], "truncated file"),
        (_tiny().build(data_size=0xFFFFFFFF), "truncated file"),
        (_tiny().build(data_size=0), "holds no records"),
        (_tiny().build() + b"\x00\x00\x00", "3 trailing bytes"),
    ],
    ids=[
        "empty",
        "short-header",
        "bad-magic",
        "header-size",
        "header-crc",
        "file-crc",
        "eof-in-crc",
        "eof-in-record",
        "4GiB-data-size",
        "no-records",
        "trailing-garbage",
    ],
)
def test_framing_errors(data: bytes, reason: str) -> None:
    with pytest.raises(FitDecodeError, match=reason) as err:
        decode(data)
    assert (err.value.reason and err.value.offset is not None) or reason == "empty file"


def test_record_errors() -> None:
    enc = FitEncoder()
    enc.raw(b"\x05\x01")  # data record for local 5: never defined
    with pytest.raises(FitDecodeError, match="local message 5") as err:
        decode(enc.build())
    assert err.value.offset == 14

    enc = FitEncoder()
    enc.define(0, 20, [(3, 1, UINT8), (7, 2, UINT16)])
    enc.raw(b"\x00\x01")  # needs 3 bytes, 1 present before the section ends
    with pytest.raises(FitDecodeError, match="runs past the end of the data section"):
        decode(enc.build())

    enc = FitEncoder()
    enc.raw(b"\x40\x00\x00\x14\x00\x09\x03\x01")  # definition declares 9 fields, has 2 bytes
    with pytest.raises(FitDecodeError, match="definition record"):
        decode(enc.build())

    enc = FitEncoder()
    enc.define(0, 20, [(3, 0, UINT8)])
    with pytest.raises(FitDecodeError, match="declares size 0"):
        decode(enc.build())


def test_developer_field_errors() -> None:
    enc = FitEncoder()
    enc.define(0, 20, [(3, 1, UINT8)], dev_fields=[(0, 2, 0)])
    with pytest.raises(
        FitDecodeError, match="developer data index 0, which no developer_data_id declared"
    ):
        decode(enc.build())

    enc = FitEncoder()
    enc.developer(0, [(1, UINT16, "Power2", "W")])
    enc.define(0, 20, [(3, 1, UINT8)], dev_fields=[(2, 2, 0)])
    with pytest.raises(FitDecodeError, match="developer field 2 of index 0"):
        decode(enc.build())

    enc = FitEncoder()
    enc.developer(0, [(1, UINT16, "Power2", "W")])
    enc.define(0, 20, [(3, 1, UINT8)], dev_fields=[(1, 3, 0)])
    with pytest.raises(FitDecodeError, match="declares size 3"):
        decode(enc.build())

    enc = FitEncoder()
    enc.message("field_description", {"developer_data_index": 4, "field_definition_number": 0})
    with pytest.raises(FitDecodeError, match="undeclared developer data index 4"):
        decode(enc.build())


def test_misaligned_field_reads_as_bytes_like_fitdecode() -> None:
    enc = FitEncoder()
    enc.define(0, 20, [(253, 4, UINT32), (5, 1, UINT32)])  # distance: 1-byte uint32 (COROS)
    enc.data(0, [fit_seconds(T0), [7]])
    data = enc.build()
    fit = decode(data)
    assert fit == reference_decode(data)
    assert fit.messages[0].fields["distance"] == (0.07,)  # the byte tuple, scaled per element


def test_max_messages_bounds_the_work() -> None:
    data = activity_file(sessions=[SessionSpec(seconds=50)])
    with pytest.raises(FitDecodeError, match="more than 10 messages"):
        decode(data, max_messages=10)
