"""A small FIT ENCODER for tests: the always-on tests build their own FIT files.

Why an encoder rather than checked-in files: the real corpus may not be
redistributed, and building files lets every test state exactly which bytes it
feeds the decoder (compressed timestamps, developer fields, chaining, broken
CRCs, absurd sizes...). Field numbers, base types, scales and enum names come
from fitdecode's profile, so `message("record", {...})` takes the same physical
values the decoder gives back.

Import it from a test module with a relative import (pytest's importlib mode
and mypy agree on it): `from .encoder import FitEncoder` in tests/fit,
`from ..fit.encoder import activity_file` in a sibling folder.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import fitdecode  # type: ignore[import-untyped]
from fitdecode import profile as fd_profile

from aurora_ingest.fit.messages import FitFile, FitMessage

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)

_CRC_NIBBLES = (
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
    0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
)  # fmt: skip

# base type number -> (struct format, invalid value)
BASE_TYPES: dict[int, tuple[str, Any]] = {
    0x00: ("B", 0xFF),  # enum
    0x01: ("b", 0x7F),  # sint8
    0x02: ("B", 0xFF),  # uint8
    0x83: ("h", 0x7FFF),  # sint16
    0x84: ("H", 0xFFFF),  # uint16
    0x85: ("i", 0x7FFFFFFF),  # sint32
    0x86: ("I", 0xFFFFFFFF),  # uint32
    0x07: ("s", b""),  # string
    0x88: ("f", math.nan),  # float32
    0x89: ("d", math.nan),  # float64
    0x0A: ("B", 0),  # uint8z
    0x8B: ("H", 0),  # uint16z
    0x8C: ("I", 0),  # uint32z
    0x0D: ("B", 0xFF),  # byte
    0x8E: ("q", 0x7FFFFFFFFFFFFFFF),  # sint64
    0x8F: ("Q", 0xFFFFFFFFFFFFFFFF),  # uint64
    0x90: ("Q", 0),  # uint64z
}
UINT8, UINT16, UINT32, SINT32, STRING, BYTE, FLOAT32 = 0x02, 0x84, 0x86, 0x85, 0x07, 0x0D, 0x88


def crc16(data: bytes, crc: int = 0) -> int:
    """The FIT CRC, the slow textbook way (independent of the decoder's tables)."""
    for byte in data:
        tmp = _CRC_NIBBLES[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC_NIBBLES[byte & 0xF]
        tmp = _CRC_NIBBLES[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ _CRC_NIBBLES[(byte >> 4) & 0xF]
    return crc


def fit_seconds(when: datetime) -> int:
    return int((when - FIT_EPOCH).total_seconds())


def _mesg_type(name: str) -> Any:
    for mesg in fd_profile.MESSAGE_TYPES.values():
        if mesg.name == name:
            return mesg
    raise KeyError(f"no FIT message {name!r}")


def _field(mesg: Any, name: str) -> Any:
    for fld in mesg.fields.values():
        if fld.name == name:
            return fld
    raise KeyError(f"no field {name!r} in {mesg.name}")


def _to_raw(fld: Any, value: Any) -> Any:
    """Physical value (as the decoder returns it) -> raw integer(s) for the profile field."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, (list, tuple)):
        return [_to_raw(fld, v) for v in value]
    if isinstance(value, datetime):
        return fit_seconds(value)
    enum = getattr(fld.type, "enum", None)
    if isinstance(value, str) and enum:
        for raw, label in enum.items():
            if label == value:
                return raw
        raise KeyError(f"{value!r} is not a {fld.type.name}")
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if fld.scale or fld.offset:
        return round((value + (fld.offset or 0)) * (fld.scale or 1))
    return value


@dataclass
class _Definition:
    global_num: int
    fields: list[tuple[int, int, int]]
    dev_fields: list[tuple[int, int, int]]
    endian: str


@dataclass
class FitEncoder:
    """Writes one FIT file: header, definition and data records, CRC.

    `define`/`data` are the low level (raw values, exact layouts, corrupt
    input); `message` is the convenient level (profile names, physical values,
    definitions emitted when the layout changes).
    """

    header_size: int = 14
    protocol_version: int = 0x20
    profile_version: int = 2132
    header_crc: bool = True
    big_endian: bool = False
    body: bytearray = field(default_factory=bytearray)
    _defs: dict[int, _Definition] = field(default_factory=dict)
    _auto: dict[tuple[Any, ...], int] = field(default_factory=dict)
    _next_local: int = 0

    # -- low level ---------------------------------------------------------------
    def define(
        self,
        local: int,
        global_num: int,
        fields: Sequence[tuple[int, int, int]],
        *,
        dev_fields: Sequence[tuple[int, int, int]] = (),
        big_endian: bool | None = None,
    ) -> None:
        """fields: (field number, size in bytes, base type); dev_fields: (number, size, index)."""
        big = self.big_endian if big_endian is None else big_endian
        endian = ">" if big else "<"
        header = 0x40 | (0x20 if dev_fields else 0) | (local & 0xF)
        out = bytearray([header, 0, 1 if big else 0])
        out += struct.pack(f"{endian}HB", global_num, len(fields))
        for num, size, base in fields:
            out += bytes([num, size, base])
        if dev_fields:
            out.append(len(dev_fields))
            for num, size, index in dev_fields:
                out += bytes([num, size, index])
        self.body += out
        self._defs[local] = _Definition(global_num, list(fields), list(dev_fields), endian)

    def data(
        self,
        local: int,
        values: Sequence[Any],
        *,
        dev_values: Sequence[Any] = (),
        dev_base_types: Sequence[int] = (),
        time_offset: int | None = None,
    ) -> None:
        """Raw values in definition order; None writes the base type's invalid value."""
        d = self._defs[local]
        if time_offset is None:
            out = bytearray([local & 0xF])
        else:
            out = bytearray([0x80 | ((local & 0x3) << 5) | (time_offset & 0x1F)])
        for (_num, size, base), value in zip(d.fields, values, strict=True):
            out += _pack(d.endian, size, base, value)
        bases = list(dev_base_types) or [BYTE] * len(d.dev_fields)
        for (_num, size, _index), base, value in zip(d.dev_fields, bases, dev_values, strict=True):
            out += _pack(d.endian, size, base, value)
        self.body += out

    def raw(self, data: bytes) -> None:
        self.body += data

    # -- convenient level --------------------------------------------------------
    def message(
        self,
        name: str,
        values: Mapping[str, Any],
        *,
        sizes: Mapping[str, int] | None = None,
        dev: Sequence[tuple[int, int, int, Any]] = (),
        time_offset: int | None = None,
    ) -> None:
        """Profile names and physical values; dev: (dev index, field number, base type, value)."""
        mesg = _mesg_type(name)
        layout: list[tuple[int, int, int]] = []
        raws: list[Any] = []
        for fname, value in values.items():
            fld = _field(mesg, fname)
            base = fld.base_type.identifier
            raw = _to_raw(fld, value)
            size = _size_of(base, raw, (sizes or {}).get(fname))
            layout.append((fld.def_num, size, base))
            raws.append(raw)
        dev_layout = [(num, _size_of(base, v, None), index) for index, num, base, v in dev]
        key = (mesg.mesg_num, tuple(layout), tuple(dev_layout), time_offset is not None)
        local = self._auto.get(key)
        if local is None or self._defs.get(local) is None:
            limit = 4 if time_offset is not None else 16
            local = self._next_local % limit
            self._next_local += 1
            for k in [k for k, v in self._auto.items() if v == local]:
                del self._auto[k]
            self._auto[key] = local
            self.define(local, mesg.mesg_num, layout, dev_fields=dev_layout)
        dev_raws = [v for *_, v in dev]
        dev_bases = [base for _i, _n, base, _v in dev]
        self.data(
            local, raws, dev_values=dev_raws, dev_base_types=dev_bases, time_offset=time_offset
        )

    def developer(
        self,
        index: int,
        fields: Sequence[tuple[int, int, str, str | None]],
        *,
        application_id: bytes | None = None,
    ) -> None:
        """developer_data_id + one field_description per (number, base type, name, units)."""
        values: dict[str, Any] = {"developer_data_index": index}
        if application_id is not None:
            values["application_id"] = tuple(application_id)
        self.message("developer_data_id", values)
        for num, base, fname, units in fields:
            desc: dict[str, Any] = {
                "developer_data_index": index,
                "field_definition_number": num,
                "fit_base_type_id": base,
                "field_name": fname,
            }
            if units is not None:
                desc["units"] = units
            self.message("field_description", desc, sizes={"field_name": 32})

    # -- output ------------------------------------------------------------------
    def header(self, *, data_size: int | None = None) -> bytes:
        size = len(self.body) if data_size is None else data_size
        head = struct.pack(
            "<BBHI4s", self.header_size, self.protocol_version, self.profile_version, size, b".FIT"
        )
        if self.header_size == 14:
            head += struct.pack("<H", crc16(head) if self.header_crc else 0)
        elif self.header_size > 12:
            head += bytes(self.header_size - 12)
        return head

    def build(self, *, data_size: int | None = None, crc: int | None = None) -> bytes:
        """The whole file; data_size/crc override the true values (corruption tests)."""
        content = self.header(data_size=data_size) + bytes(self.body)
        return content + struct.pack("<H", crc16(content) if crc is None else crc)


def _size_of(base: int, raw: Any, explicit: int | None) -> int:
    fmt = BASE_TYPES[base][0]
    if explicit is not None:
        return explicit
    if base == STRING:
        text = raw.encode() if isinstance(raw, str) else (raw or b"")
        return len(text) + 1
    if isinstance(raw, (list, tuple)):
        return struct.calcsize(fmt) * len(raw)
    return struct.calcsize(fmt)


def _pack(endian: str, size: int, base: int, value: Any) -> bytes:
    fmt, invalid = BASE_TYPES.get(base, ("B", 0xFF))
    if base == STRING or fmt == "s":
        text = value.encode() if isinstance(value, str) else (value or b"")
        return text[:size].ljust(size, b"\0")
    width = struct.calcsize(fmt)
    count = max(size // width, 1) if size % width == 0 else size
    if size % width:  # misaligned on purpose: write raw bytes
        return bytes(value if isinstance(value, (list, tuple, bytes)) else [0xFF] * size)[
            :size
        ].ljust(size, b"\xff")
    items = (
        list(value) if isinstance(value, (list, tuple)) else [value] * (1 if count == 1 else count)
    )
    if value is None:
        items = [None] * count
    items = [invalid if v is None else v for v in items]
    return struct.pack(f"{endian}{count}{fmt}", *items)


def chain(*files: bytes) -> bytes:
    """Chained FIT files: each keeps its own header and CRC."""
    return b"".join(files)


# -- a realistic activity, for normaliser, upload and CLI tests ---------------------------
@dataclass(frozen=True)
class SessionSpec:
    sport: str = "running"
    sub_sport: str = "generic"
    seconds: int = 60


def activity_file(
    *,
    start: datetime | None = None,
    sessions: Sequence[SessionSpec] = (SessionSpec(),),
    manufacturer: str = "garmin",
    product: int = 3121,  # edge_530 in the profile
    serial: int = 3_900_000_001,
    hr_messages: bool = False,
    hrv: bool = False,
    developer_field: bool = False,
    tz_offset_s: int = 3600,
    header_size: int = 14,
) -> bytes:
    """An activity file as a watch writes it: file_id, device_info, records, laps, sessions.

    One record per second with HR, power, cadence, speed, distance, altitude,
    position and temperature. hr_messages moves HR into `hr` messages (like a
    pool swim with a chest strap); hrv adds R-R intervals; developer_field adds
    a Stryd-like "Form Power" developer field on every record.
    """
    t0 = start or datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
    enc = FitEncoder(header_size=header_size)
    enc.message(
        "file_id",
        {
            "type": "activity",
            "manufacturer": manufacturer,
            "product": product,
            "serial_number": serial,
            "time_created": t0,
        },
    )
    enc.message(
        "device_info",
        {
            "timestamp": t0,
            "device_index": "creator",
            "manufacturer": manufacturer,
            "product": product,
            "serial_number": serial,
        },
    )
    if developer_field:
        enc.developer(0, [(0, UINT16, "Form Power", "Watts")], application_id=bytes(range(16)))
    enc.message("event", {"timestamp": t0, "event": "timer", "event_type": "start"})
    t = t0
    distance = 0.0
    lat, lng = 498_000_000, -42_000_000  # semicircles
    for index, spec in enumerate(sessions):
        s_start = t
        hr_times: list[float] = []
        hr_bpm: list[int] = []
        for second in range(spec.seconds):
            distance += 3.0
            values: dict[str, Any] = {
                "timestamp": t,
                "position_lat": lat + second * 100,
                "position_long": lng + second * 50,
                "distance": distance,
                "enhanced_speed": 3.0,
                "enhanced_altitude": 100.0 + second * 0.2,
                "power": 200 + second % 7,
                "cadence": 85,
                "temperature": 21,
            }
            bpm = 120 + (second % 30)
            if hr_messages:
                # Devices write the low 32 bits of a 1/1024 s clock, as real files do.
                hr_times.append((fit_seconds(t) + 0.5) % 4_194_304)
                hr_bpm.append(bpm)
            else:
                values["heart_rate"] = bpm
            dev = [(0, 0, UINT16, 250 + second % 5)] if developer_field else []
            enc.message("record", values, dev=dev)
            if hrv:
                enc.message("hrv", {"time": (0.5, 0.52, None, None, None)})
            t += timedelta(seconds=1)
        for at in range(0, len(hr_times), 8):  # a field holds at most 255 bytes: batches of 8
            batch = {"event_timestamp": hr_times[at : at + 8], "filtered_bpm": hr_bpm[at : at + 8]}
            enc.message("hr", {"timestamp": t, **batch})
        elapsed = float(spec.seconds)
        summary = {
            "timestamp": t,
            "start_time": s_start,
            "total_elapsed_time": elapsed,
            "total_timer_time": elapsed,
            "total_distance": 3.0 * spec.seconds,
            "sport": spec.sport,
            "sub_sport": spec.sub_sport,
            "avg_heart_rate": 135,
            "max_heart_rate": 149,
        }
        enc.message("lap", {**summary, "message_index": index})
        enc.message(
            "session", {**summary, "message_index": index, "first_lap_index": index, "num_laps": 1}
        )
    enc.message("event", {"timestamp": t, "event": "timer", "event_type": "stop_all"})
    enc.message(
        "activity",
        {
            "timestamp": t,
            "total_timer_time": float((t - t0).total_seconds()),
            "num_sessions": len(sessions),
            "type": "manual",
            "event": "activity",
            "event_type": "stop",
            "local_timestamp": t + timedelta(seconds=tz_offset_s),
        },
    )
    return enc.build()


# -- the reference: fitdecode's output folded into FitMessage ----------------------------
# The folding rule is the decoder's (aurora_ingest.fit._generic), written again here from
# fitdecode's FieldData list so a slip in one is caught by the other: a defined field wins
# over an expansion unless it is None; among expansions the first non-None wins; several
# components of one field expanding into the same name become a tuple.


def reference_decode(data: bytes) -> FitFile:
    messages: list[FitMessage] = []
    chained = 0
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # coros' misaligned fields: fitdecode warns, then reads bytes
        reader = fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE)
        for frame in reader:
            if frame.frame_type == fitdecode.FIT_FRAME_HEADER:
                chained += 1
            elif frame.frame_type == fitdecode.FIT_FRAME_DATA:
                messages.append(_fold(frame))
    return FitFile(messages, chained=chained)


def _fold(frame: Any) -> FitMessage:
    fields: dict[str, Any] = {}
    dev: dict[str, Any] = {}
    expansions: list[tuple[str, Any]] = []
    pending: list[Any] = []
    for fd in frame.fields:
        if fd.field_def is None:
            pending.append(fd)
            continue
        expansions.extend(_group(pending))
        pending = []
        if fd.field_def.is_dev:
            key = (
                fd.field.name
                if fd.field.name is not None
                else f"unknown_dev_{fd.field.dev_data_index}_{fd.def_num}"
            )
            if dev.get(key) is None:
                dev[key] = fd.value
        elif fields.get(fd.name) is None:
            fields[fd.name] = fd.value
    expansions.extend(_group(pending))
    for name, value in expansions:
        if fields.get(name) is None:
            fields[name] = value
    return FitMessage(frame.name, frame.global_mesg_num, fields, dev)


def _group(pending: list[Any]) -> list[tuple[str, Any]]:
    by_name: dict[str, list[Any]] = {}
    for fd in pending:
        by_name.setdefault(fd.name, []).append(fd.value)
    return [
        (name, values[0] if len(values) == 1 else tuple(values)) for name, values in by_name.items()
    ]
