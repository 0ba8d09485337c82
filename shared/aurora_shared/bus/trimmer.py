"""Stream trimming that never drops an entry some group still needs.

Plain MAXLEN trimming silently deletes pending entries (checklist, first finding),
so the trim point is MINID = min(retention cut-off, oldest entry any group has
not acknowledged). Redis 7.0 has no ACKED trim mode, hence the computation.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from aurora_shared.bus.streamids import format_id, next_id, parse_id

log = logging.getLogger("aurora.bus.trimmer")


def safe_trim_floor(
    groups: list[dict[str, Any]], oldest_pending: dict[str, str | None], cutoff_ms: int
) -> str:
    """Pure: the highest id below which every entry is acknowledged and older than retention.

    `groups` are XINFO GROUPS rows; `oldest_pending` maps a group to the id of its
    oldest pending entry (None when its PEL is empty).
    """
    floor = (cutoff_ms, 0)
    for group in groups:
        name = _text(group["name"])
        candidate = oldest_pending.get(name)
        if candidate is None:
            # Nothing pending: everything up to last-delivered-id is acknowledged.
            candidate = next_id(_text(group["last-delivered-id"]))
        floor = min(floor, parse_id(candidate))
    return format_id(floor)


async def trim_stream(redis: Redis, stream: str, retention_s: int) -> int:
    """Trim one stream; returns the number of entries removed."""
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError as exc:
        if "no such key" in str(exc).lower():
            return 0
        raise
    oldest: dict[str, str | None] = {}
    for group in groups:
        name = _text(group["name"])
        summary = await redis.xpending(stream, name)
        oldest[name] = _text(summary["min"]) if summary and summary.get("pending") else None
    cutoff_ms = int(time.time() * 1000) - retention_s * 1000
    floor = safe_trim_floor(groups, oldest, cutoff_ms)
    removed = int(await redis.xtrim(stream, minid=floor, approximate=False))
    if removed:
        log.info("trimmed stream", extra={"stream": stream, "removed": removed, "minid": floor})
    return removed


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
