"""Operator tools for dead letters: see what failed and why, then replay it.

A replay puts the original entry back on its original stream. Groups that had
already applied the event skip it through their inbox, so only the group that
failed does work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from aurora_shared.bus.consumer import dlq_stream

_META_FIELDS = (
    "original_id",
    "original_stream",
    "group",
    "consumer",
    "deliveries",
    "error",
    "failed_at",
)


@dataclass(frozen=True)
class DeadLetter:
    dlq_id: str
    stream: str
    original_id: str
    group: str
    deliveries: int
    error: str
    failed_at: str
    event_type: str
    event_id: str


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _as_dead_letter(stream: str, entry_id: Any, raw: dict[Any, Any]) -> DeadLetter:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    return DeadLetter(
        dlq_id=_text(entry_id),
        stream=fields.get("original_stream", stream),
        original_id=fields.get("original_id", ""),
        group=fields.get("group", ""),
        deliveries=int(fields.get("deliveries", "0") or 0),
        error=fields.get("error", ""),
        failed_at=fields.get("failed_at", ""),
        event_type=fields.get("type", ""),
        event_id=fields.get("event_id", ""),
    )


async def list_dead_letters(redis: Redis, stream: str, *, count: int = 100) -> list[DeadLetter]:
    entries = await redis.xrange(dlq_stream(stream), count=count)
    return [_as_dead_letter(stream, entry_id, fields) for entry_id, fields in entries]


async def replay_dead_letters(
    redis: Redis, stream: str, dlq_ids: list[str] | None = None
) -> list[str]:
    """Replay the given dead letters (all when None); returns the new stream entry ids."""
    source = dlq_stream(stream)
    if dlq_ids is None:
        entries = await redis.xrange(source)
    else:
        entries = []
        for dlq_id in dlq_ids:
            entries.extend(await redis.xrange(source, min=dlq_id, max=dlq_id))
    replayed: list[str] = []
    for entry_id, raw in entries:
        fields: dict[Any, Any] = {
            _text(k): _text(v) for k, v in raw.items() if _text(k) not in _META_FIELDS
        }
        pipe = redis.pipeline(transaction=True)
        pipe.xadd(stream, fields)
        pipe.xdel(source, entry_id)
        new_id, _ = await pipe.execute()
        replayed.append(_text(new_id))
    return replayed
