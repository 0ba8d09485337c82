"""What the connections endpoints answer: status and timestamps, never a token."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from aurora_ingest.connections.models import Connection


def reconnect_path(provider: str) -> str:
    return f"/connections/{provider}/authorize"


class ConnectionOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    status: str
    status_reason: str | None
    # Where to start again when the connection no longer works (degraded or revoked).
    reconnect_hint: str | None
    scopes: list[str]
    connected_at: datetime
    last_used_at: datetime | None
    last_synced_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, connection: Connection) -> ConnectionOut:
        return cls(
            provider=connection.provider,
            status=connection.status,
            status_reason=connection.status_reason,
            reconnect_hint=(
                reconnect_path(connection.provider) if connection.status != "active" else None
            ),
            scopes=[s for s in connection.scopes.split() if s],
            connected_at=connection.connected_at,
            last_used_at=connection.last_used_at,
            last_synced_at=connection.last_synced_at,
            revoked_at=connection.revoked_at,
        )


class ConnectionList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ConnectionOut]


class AuthorizeOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authorize_url: str


class SyncQueued(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    status: str = "queued"
