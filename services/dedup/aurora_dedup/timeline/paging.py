"""Keyset paging over one merged stream: canonical workouts and health days, newest first.

Every item has a position (date, rank, start, id), compared as a tuple: a
workout's date is its start's UTC date, and a health day sorts before the
workouts of its date (rank 1 over 0), which then follow by start and id. The
cursor is the position of a page's last item, made opaque; the next page is
everything strictly below it, so pages never repeat or skip an item, however
many workouts share a start or a date.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, NamedTuple

from aurora_shared.errors import ProblemError

WORKOUT_RANK: Final = 0
DAY_RANK: Final = 1
_NO_ID: Final = uuid.UUID(int=0)
_NO_START: Final = datetime.min.replace(tzinfo=UTC)


class Position(NamedTuple):
    day: date
    rank: int
    start: datetime
    id: uuid.UUID


def workout_position(start: datetime, canonical_id: uuid.UUID) -> Position:
    start = start.astimezone(UTC)
    return Position(start.date(), WORKOUT_RANK, start, canonical_id)


def day_position(day: date) -> Position:
    return Position(day, DAY_RANK, _NO_START, _NO_ID)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def workouts_below(position: Position) -> tuple[datetime, uuid.UUID]:
    """The (start, id) bound, exclusive, of the workouts after `position`."""
    if position.rank == WORKOUT_RANK:
        return position.start, position.id
    # Below a health day come all the workouts of its date.
    return midnight(position.day + timedelta(days=1)), _NO_ID


def days_below(position: Position) -> date:
    """The date bound, exclusive, of the health days after `position`."""
    return position.day


def encode_cursor(position: Position) -> str:
    if position.rank == DAY_RANK:
        raw = f"d|{position.day.isoformat()}"
    else:
        raw = f"w|{position.start.isoformat()}|{position.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """A position written by `encode_cursor`; anything else is the client's 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, _, rest = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
        if kind == "d":
            day = date.fromisoformat(rest)
            if day == date.max:
                raise ValueError("no day comes after the last one")
            return day_position(day)
        if kind == "w":
            stamp, _, canonical_id = rest.partition("|")
            start = datetime.fromisoformat(stamp)
            if start.tzinfo is None:
                raise ValueError("a cursor's start has an offset")
            return workout_position(start, uuid.UUID(canonical_id))
    except (ValueError, UnicodeError, OverflowError) as exc:
        raise ProblemError(422, "invalid cursor") from exc
    raise ProblemError(422, "invalid cursor")
