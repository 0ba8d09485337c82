"""Which streams the analytics worker reads, and the handler of each event type."""

from __future__ import annotations

from aurora_shared.service import Subscription


def subscriptions() -> list[Subscription]:
    return []
