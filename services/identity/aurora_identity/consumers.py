"""Which streams the identity worker reads, and the handler of each event type."""

from __future__ import annotations

from aurora_identity.audit.service import handle_audit_recorded
from aurora_shared.service import Subscription

AUDIT_STREAM = "audit.events"


def subscriptions() -> list[Subscription]:
    # Any service writes `audit.recorded` through its own outbox; identity keeps the log.
    return [Subscription(AUDIT_STREAM, {"audit.recorded": handle_audit_recorded})]
