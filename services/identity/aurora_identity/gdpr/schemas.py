"""Bodies of account deletion and of the export archive."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aurora_identity.auth.rules import PASSWORD_MAX_LENGTH
from aurora_identity.users.schemas import MeOut


class DeleteAccountIn(BaseModel):
    """The password again: a stolen access token alone must not erase an account."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class DeletionOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["deleted"] = "deleted"
    deleted_at: datetime
    # From then on the purge job erases the account everywhere; until then it is kept.
    purge_after: datetime


class SourceResult(BaseModel):
    """One service's part of the archive, or why it could not be fetched."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "error"]
    data: Any = None
    error: str | None = None


class IdentityExport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: MeOut
    password_changed_at: datetime | None
    # Rows of identity's other tables about the user, secrets (token hashes) left out.
    grants: list[dict[str, Any]]
    sessions: list[dict[str, Any]]


class ExportOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["aurora-export"] = "aurora-export"
    version: Literal[1] = 1
    generated_at: datetime
    user_id: uuid.UUID
    # False when a service's part is missing (see its `error`).
    complete: bool
    identity: IdentityExport
    services: dict[str, SourceResult]
