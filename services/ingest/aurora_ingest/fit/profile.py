"""FIT profile tables, taken from fitdecode's profile (the differential test's reference).

Why not our own copy: fitdecode's tables are generated from Garmin's
Profile.xlsx and are what the conformance test compares against; deriving
from them keeps names, scales, enums, subfields and components identical.
Only the base-type facts the decoder needs per column live here.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, time
from typing import Any

from fitdecode import profile as _profile  # type: ignore[import-untyped]

# Message number -> fitdecode MessageType (name, mesg_num, fields{num: Field}).
MESSAGE_TYPES: dict[int, Any] = _profile.MESSAGE_TYPES
TIMESTAMP_FIELD: Any = _profile.FIELD_TYPE_TIMESTAMP

MESG_FILE_ID = 0
MESG_HR = 132
MESG_FIELD_DESCRIPTION = 206
MESG_DEVELOPER_DATA_ID = 207
FIELD_TIMESTAMP = 253
FIELD_HR_EVENT_TIMESTAMP = 9
FIELD_HR_EVENT_TIMESTAMP_12 = 10

FIT_UTC_REFERENCE = 631065600  # 1989-12-31T00:00:00Z as a unix time
FIT_DATETIME_MIN = 0x10000000  # below: seconds since the device was switched on

BYTE = 0x0D
STRING = 0x07

# base type number -> (name, struct format, size, invalid value or None for "NaN"/"all 0xFF")
BASE_TYPES: dict[int, tuple[str, str, int, Any]] = {
    0x00: ("enum", "B", 1, 0xFF),
    0x01: ("sint8", "b", 1, 0x7F),
    0x02: ("uint8", "B", 1, 0xFF),
    0x83: ("sint16", "h", 2, 0x7FFF),
    0x84: ("uint16", "H", 2, 0xFFFF),
    0x85: ("sint32", "i", 4, 0x7FFFFFFF),
    0x86: ("uint32", "I", 4, 0xFFFFFFFF),
    0x07: ("string", "s", 1, None),
    0x88: ("float32", "f", 4, math.nan),
    0x89: ("float64", "d", 8, math.nan),
    0x0A: ("uint8z", "B", 1, 0),
    0x8B: ("uint16z", "H", 2, 0),
    0x8C: ("uint32z", "I", 4, 0),
    0x0D: ("byte", "B", 1, None),
    0x8E: ("sint64", "q", 8, 0x7FFFFFFFFFFFFFFF),
    0x8F: ("uint64", "Q", 8, 0xFFFFFFFFFFFFFFFF),
    0x90: ("uint64z", "Q", 8, 0),
}


def base_type(num: int) -> int:
    """Unknown base types read as bytes, as fitdecode does."""
    return num if num in BASE_TYPES else BYTE


def fit_datetime(value: float) -> datetime:
    return datetime.fromtimestamp(FIT_UTC_REFERENCE + value, UTC)


def type_name(fld: Any) -> str:
    return str(fld.type.name)


def process_type(kind: str, value: Any) -> Any:
    """fitdecode's DefaultDataProcessor, by profile type name."""
    if value is None or isinstance(value, tuple):
        return value
    if kind == "date_time":
        return fit_datetime(value) if value >= FIT_DATETIME_MIN else value
    if kind == "local_date_time":
        return fit_datetime(value)
    if kind == "bool":
        return bool(value)
    if kind == "localtime_into_day":
        if value >= 86400:
            return time.max
        minutes, seconds = divmod(value, 60)
        hours, minutes = divmod(minutes, 60)
        return time(hours, minutes, seconds)
    return value


PROCESSED_TYPES = frozenset({"date_time", "local_date_time", "bool", "localtime_into_day"})
