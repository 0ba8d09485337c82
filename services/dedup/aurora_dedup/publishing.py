"""What every view dedup publishes shares: a fingerprint and event times that never go back.

A view (a canonical workout, a health day) is written and announced only when
the fingerprint of its payload changed, so re-resolving what did not change
emits nothing. Its events carry times that never go back, even when workers'
clocks disagree, so a consumer keeping the newest version of a view per id
never keeps an older one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from aurora_shared.bus.envelope import Envelope, new_event

PRODUCER: Final = "dedup"
_TICK: Final = timedelta(microseconds=1)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def fingerprint(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class PublishedView(Protocol):
    """A stored view: the fingerprint of its last payload and when that was announced."""

    @property
    def fingerprint(self) -> str: ...

    @property
    def updated_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Change:
    """A view's new payload: its fingerprint and the time of the event announcing it."""

    fingerprint: str
    occurred: datetime


def change_of(
    current: PublishedView | None, payload: Mapping[str, Any], now: datetime
) -> Change | None:
    """None when `payload` is what the stored view last announced."""
    digest = fingerprint(payload)
    if current is not None and current.fingerprint == digest:
        return None
    return Change(digest, after(now, None if current is None else current.updated_at))


def after(now: datetime, previous: datetime | None) -> datetime:
    """`now`, or a tick after the view's previous event when that is not earlier."""
    return now if previous is None or previous < now else previous + _TICK


def announcement(
    event_type: str, user_id: uuid.UUID, payload: dict[str, Any], occurred: datetime
) -> Envelope:
    return new_event(
        event_type, producer=PRODUCER, user_id=user_id, payload=payload, occurred_at=occurred
    )
