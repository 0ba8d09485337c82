"""Field-level fill-in: the primary's fields win, gaps are filled from its duplicates.

A Whoop detection has no distance and a Zwift ride has no watch heart rate: the
canonical workout shows the primary's value for every field it has, and for each
field it lacks the value of the best-ranked duplicate that has one, naming that
record so the timeline can say where the number came from.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from aurora_dedup.resolution.rules import Decision, Group, WorkoutRecord

# Summary fields carried on the record itself, next to its free-form metrics.
RECORD_FIELDS: Final = ("distance_m", "avg_hr", "avg_power")


@dataclass(frozen=True, slots=True)
class FilledField:
    value: Any
    record_id: uuid.UUID
    source: str


def fill_fields(group: Group) -> dict[str, FilledField]:
    """Every field of the group: the primary's value, else the best-ranked duplicate's."""
    out: dict[str, FilledField] = {}
    for decision in _by_rank(group):
        record = decision.record
        for name, value in _fields(record):
            if name not in out:
                out[name] = FilledField(value, record.id, record.source)
    return out


def _by_rank(group: Group) -> list[Decision]:
    """Primary first, then duplicates in election order (their position in the group breaks
    ties for groups built by hand, whose decisions all carry rank 0)."""
    ordered = sorted(enumerate(group.duplicates), key=lambda item: (item[1].rank, item[0]))
    return [group.primary, *(decision for _, decision in ordered)]


def _fields(record: WorkoutRecord) -> Iterator[tuple[str, Any]]:
    """A record's known values: its metrics, and its summary fields where metrics lack them."""
    for name, value in record.metrics.items():
        if value is not None:
            yield name, value
    for name in RECORD_FIELDS:
        value = getattr(record, name)
        if value is not None and record.metrics.get(name) is None:
            yield name, value
