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
from aurora_dedup.resolution.rules import Group, elect, resolve

RECORDS_FORMAT: Final = "aurora-dedup-records/1"
GROUPS_FORMAT: Final = "aurora-dedup-groups/1"
# Record ids are uuid5 of (source, external_id), Aurora's own unique key for a record.
RECORD_NAMESPACE: Final = uuid.UUID("0f3c1b8e-6a4d-5b0e-9d3f-2c7a8e4b1d60")


class DocumentError(ValueError):
    """The input is not a usable aurora-dedup-records/1 document; the message says where."""


_VERSION_MASK: Final = ~(0xF000 << 64) & ~(0xC000 << 48)
_VERSION_5: Final = (0x5000 << 64) | (0x8000 << 48)
# SHA-1 over the namespace is the same for every id: hash it once, copy the state per id.
_NAMESPACED_SHA1: Final = hashlib.sha1(RECORD_NAMESPACE.bytes, usedforsecurity=False)
# uuid.UUID(int=...) validates its argument on a slow generic path; a masked SHA-1 prefix
# is always a valid version-5 UUID, so the id is built the way UUID's own pickling does.
_new_object = object.__new__
_set_slot = object.__setattr__
_UNKNOWN_SAFETY: Final = uuid.SafeUUID.unknown


def record_id(source: str, external_id: str) -> uuid.UUID:
    """uuid.uuid5(RECORD_NAMESPACE, f"{source}\\x1f{external_id}"), at half the cost."""
    sha1 = _NAMESPACED_SHA1.copy()
    sha1.update(f"{source}\x1f{external_id}".encode())
    record_uuid = _new_object(uuid.UUID)
    _set_slot(record_uuid, "int", (int.from_bytes(sha1.digest()[:16]) & _VERSION_MASK) | _VERSION_5)
    _set_slot(record_uuid, "is_safe", _UNKNOWN_SAFETY)
    return record_uuid


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
    """parse_record over an athlete's records, with a fast path for well-formed records.

    The fast path is inlined (a call per record costs a tenth of the parse) and reads
    every field by subscript: anything unusual, a missing optional field included,
    raises there, and the careful path accepts the record or names its first bad field.
    """
    out: list[WorkoutRecord] = []
    append = out.append
    for i, raw in enumerate(records):
        try:
            source, external_id, sport = raw["source"], raw["external_id"], raw["sport"]
            if not (type(source) is str and type(external_id) is str and type(sport) is str):
                raise TypeError
            if not (source and external_id and sport):
                raise ValueError
            start = _fromisoformat(raw["start"])
            end_text = raw["end"]
            end = None if end_text is None else _fromisoformat(end_text)
            if start.tzinfo is None or (end is not None and end.tzinfo is None):
                raise ValueError
            start = start.astimezone(UTC)
            if end is not None:
                end = end.astimezone(UTC)
                if end < start:
                    raise ValueError
            duration = raw["duration_s"]
            offset, device = raw["tz_offset_min"], raw["origin_device"]
            if type(duration) not in _NUMBER_TYPES or not 0 <= duration < math.inf:
                raise ValueError
            if not (offset is None or type(offset) is int):
                raise TypeError
            if not (device is None or type(device) is str):
                raise TypeError
            distance, hr, power = raw["distance_m"], raw["avg_hr"], raw["avg_power"]
            for value in (distance, hr, power):
                if value is not None and (type(value) not in _NUMBER_TYPES or not _isfinite(value)):
                    raise ValueError
            # tuple.__new__ straight away: WorkoutRecord's generated __new__ only forwards to it.
            append(
                _new_record(
                    WorkoutRecord,
                    (
                        record_id(source, external_id),
                        source,
                        external_id,
                        device,
                        sport,
                        start,
                        end,
                        float(duration),
                        offset,
                        None if distance is None else float(distance),
                        None if hr is None else float(hr),
                        None if power is None else float(power),
                        _NO_METRICS,
                    ),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            append(parse_record(raw, f"users.{user}[{i}]"))
    return out


_fromisoformat = datetime.fromisoformat
_isfinite = math.isfinite
_new_record = tuple.__new__
_NO_METRICS: Final = WorkoutRecord._field_defaults["metrics"]
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
    users: dict[str, list[dict[str, Any]]] = {}
    for user, records in _users(document):
        if explain:
            users[user] = [_explained(group) for group in resolve(records)]
        else:  # the same election, without wording reasons nobody reads
            users[user] = [
                {"ids": (ids := [view.record.external_id for view in ballot]), "primary": ids[0]}
                for ballot in elect(records)
            ]
    return {"format": GROUPS_FORMAT, "predictor": "aurora", "users": users}


def _explained(group: Group) -> dict[str, Any]:
    decisions = (group.primary, *group.duplicates)
    ids = [d.record.external_id for d in decisions]
    return {
        "ids": ids,
        "primary": ids[0],
        "reasons": {d.record.external_id: d.reason for d in decisions},
    }


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
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DocumentError(f"{where}: expected a number")
    try:  # JSON integers have no size limit; one beyond a float's range is no usable number
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise DocumentError(f"{where}: expected a number")
    return number
