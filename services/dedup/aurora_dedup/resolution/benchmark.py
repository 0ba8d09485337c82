"""The dedup benchmark's file formats around the core: records in, groups out.

`aurora-dedup-records/1` (shared/fixtures/dedup/README.md §1) is parsed into
WorkoutRecords and the result is written in the truth format of §2, keyed by
external id, so the scorer can compare it with the ground truth. Pure functions:
the `aurora dedup resolve` command and the conformance test both use them.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from aurora_dedup.resolution.records import WorkoutRecord
from aurora_dedup.resolution.rules import Group, resolve

RECORDS_FORMAT: Final = "aurora-dedup-records/1"
GROUPS_FORMAT: Final = "aurora-dedup-groups/1"
# Record ids are uuid5 of (source, external_id), Aurora's own unique key for a record.
RECORD_NAMESPACE: Final = uuid.UUID("0f3c1b8e-6a4d-5b0e-9d3f-2c7a8e4b1d60")


class DocumentError(ValueError):
    """The input is not a usable aurora-dedup-records/1 document; the message says where."""


_NAMESPACE_BYTES: Final = RECORD_NAMESPACE.bytes
_VERSION_MASK: Final = ~(0xF000 << 64) & ~(0xC000 << 48)
_VERSION_5: Final = (0x5000 << 64) | (0x8000 << 48)


def record_id(source: str, external_id: str) -> uuid.UUID:
    """uuid.uuid5(RECORD_NAMESPACE, ...) computed without its slower generic path."""
    name = f"{source}\x1f{external_id}".encode()
    digest = hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()
    return uuid.UUID(int=(int.from_bytes(digest[:16]) & _VERSION_MASK) | _VERSION_5)


def parse_document(document: Mapping[str, Any]) -> dict[str, list[WorkoutRecord]]:
    return dict(_users(document))


def _users(document: Mapping[str, Any]) -> Iterator[tuple[str, list[WorkoutRecord]]]:
    """Each athlete's records, parsed one athlete at a time (a large file never holds
    every parsed record at once)."""
    if not isinstance(document, Mapping):
        raise DocumentError("expected a JSON object")
    if document.get("format") != RECORDS_FORMAT:
        raise DocumentError(f"format must be {RECORDS_FORMAT!r}, got {document.get('format')!r}")
    users = document.get("users")
    if not isinstance(users, Mapping):
        raise DocumentError("'users' must map each athlete to a list of records")
    for user, records in users.items():
        if not isinstance(records, list):
            raise DocumentError(f"users.{user}: expected a list of records")
        yield str(user), _parse_records(str(user), records)


def _parse_records(user: str, records: list[Any]) -> list[WorkoutRecord]:
    out: list[WorkoutRecord] = []
    for i, raw in enumerate(records):
        try:
            out.append(_parse_valid_record(raw))
        except (KeyError, TypeError, ValueError, AttributeError):
            # The careful path names the first bad field (and raises).
            out.append(parse_record(raw, f"users.{user}[{i}]"))
    return out


def _parse_valid_record(raw: Any) -> WorkoutRecord:
    """parse_record's fast path for well-formed records: raises on anything unusual."""
    source, external_id, sport = raw["source"], raw["external_id"], raw["sport"]
    if not (type(source) is str and type(external_id) is str and type(sport) is str):
        raise TypeError
    if not (source and external_id and sport):
        raise ValueError
    start = datetime.fromisoformat(raw["start"])
    end_text = raw.get("end")
    end = None if end_text is None else datetime.fromisoformat(end_text)
    if start.tzinfo is None or (end is not None and (end.tzinfo is None or end < start)):
        raise ValueError
    duration, offset, device = raw["duration_s"], raw.get("tz_offset_min"), raw.get("origin_device")
    if type(duration) not in _NUMBER_TYPES or not 0 <= duration < math.inf:
        raise ValueError
    if not (offset is None or type(offset) is int) or not (device is None or type(device) is str):
        raise TypeError
    distance, hr, power = raw.get("distance_m"), raw.get("avg_hr"), raw.get("avg_power")
    for value in (distance, hr, power):
        if value is not None and (type(value) not in _NUMBER_TYPES or not math.isfinite(value)):
            raise ValueError
    return WorkoutRecord(
        record_id(source, external_id),
        source,
        external_id,
        device,
        sport,
        start.astimezone(UTC),
        None if end is None else end.astimezone(UTC),
        float(duration),
        offset,
        None if distance is None else float(distance),
        None if hr is None else float(hr),
        None if power is None else float(power),
    )


_NUMBER_TYPES: Final = (int, float)


def parse_record(raw: Any, where: str) -> WorkoutRecord:
    if not isinstance(raw, Mapping):
        raise DocumentError(f"{where}: expected an object")
    source = _text(raw, "source", where)
    external_id = _text(raw, "external_id", where)
    start = _time(raw.get("start"), f"{where}.start")
    end = None if raw.get("end") is None else _time(raw["end"], f"{where}.end")
    duration = _number(raw.get("duration_s"), f"{where}.duration_s")
    if duration is None or duration < 0:
        raise DocumentError(f"{where}.duration_s: required, a number >= 0")
    if end is not None and end < start:
        raise DocumentError(f"{where}: end is before start")
    device = raw.get("origin_device")
    if device is not None and not isinstance(device, str):
        raise DocumentError(f"{where}.origin_device: expected a string or null")
    offset = raw.get("tz_offset_min")
    if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int)):
        raise DocumentError(f"{where}.tz_offset_min: expected an integer or null")
    return WorkoutRecord(
        id=record_id(source, external_id),
        source=source,
        external_id=external_id,
        origin_device=device,
        sport=_text(raw, "sport", where),
        start=start,
        end=end,
        duration_s=duration,
        tz_offset_min=offset,
        distance_m=_number(raw.get("distance_m"), f"{where}.distance_m"),
        avg_hr=_number(raw.get("avg_hr"), f"{where}.avg_hr"),
        avg_power=_number(raw.get("avg_power"), f"{where}.avg_power"),
    )


def predict(document: Mapping[str, Any], *, explain: bool = False) -> dict[str, Any]:
    """Resolve every athlete of a records document; groups in the truth format."""
    return {
        "format": GROUPS_FORMAT,
        "predictor": "aurora",
        "users": {
            user: [_group_out(g, explain) for g in resolve(records)]
            for user, records in _users(document)
        },
    }


def _group_out(group: Group, explain: bool) -> dict[str, Any]:
    ids = [group.primary.record.external_id, *(d.record.external_id for d in group.duplicates)]
    out: dict[str, Any] = {"ids": ids, "primary": ids[0]}
    if explain:
        out["reasons"] = {
            d.record.external_id: d.reason for d in (group.primary, *group.duplicates)
        }
    return out


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise DocumentError(f"{where}.{key}: required, a non-empty string")
    return value


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise DocumentError(f"{where}: required, an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DocumentError(f"{where}: not an RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise DocumentError(f"{where}: needs a UTC offset: {value!r}")
    # In UTC, as the service reads them back from timestamptz; the athlete's offset
    # travels in tz_offset_min.
    return parsed.astimezone(UTC)


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DocumentError(f"{where}: expected a number")
    return float(value)
