"""Why a connection cannot be used, in terms the jobs runner already understands."""

from __future__ import annotations

import uuid

from aurora_ingest.jobs.service import JobCancelled


class ConnectionUnusable(JobCancelled):
    """The connection is degraded or revoked: its jobs stop until the user reconnects.

    A subclass of `JobCancelled`, so a provider job that meets it is cancelled,
    not retried: retrying cannot help before the user acts.
    """

    def __init__(self, connection_id: uuid.UUID, status: str, reason: str | None) -> None:
        super().__init__(f"connection {connection_id} is {status}: {reason or 'no reason'}")
        self.connection_id = connection_id
        self.status = status
        self.reason = reason
