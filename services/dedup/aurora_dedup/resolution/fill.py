"""Field-level fill-in: the primary's fields win, gaps are filled from its duplicates.

(Contract stub; the resolution-core work replaces the body.)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aurora_dedup.resolution.rules import Group


@dataclass(frozen=True, slots=True)
class FilledField:
    value: Any
    record_id: uuid.UUID
    source: str


def fill_fields(group: Group) -> dict[str, FilledField]:
    """Every metric of the group's records: the primary's value, else the best duplicate's."""
    out: dict[str, FilledField] = {}
    for record in group.records:
        for name, value in record.metrics.items():
            if value is not None and name not in out:
                out[name] = FilledField(value, record.id, record.source)
    return out
