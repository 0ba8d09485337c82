"""Writing and reading the audit log.

`record` joins the caller's transaction, so an audited change and its audit row
commit or roll back together. `record_now` commits on its own, for facts that must
be kept although the request that produced them raises and rolls back. (A refused
login is not such a case: the endpoint returns the 401, so `record` commits with it.)
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aurora_identity.audit import actions, repository
from aurora_identity.audit.models import AuditEntry
from aurora_identity.audit.repository import AuditFilter
from aurora_identity.audit.rules import redact, secret_keys
from aurora_identity.audit.schemas import AuditRecordedIn
from aurora_identity.users.service import current_admin
from aurora_shared.auth import Principal
from aurora_shared.bus.envelope import Envelope
from aurora_shared.errors import ProblemError
from aurora_shared.logging import request_id_var

log = logging.getLogger("aurora.identity.audit")

SERVICE = "identity"
MAX_ACTION_LENGTH = 100
MAX_DETAILS_BYTES = 64 * 1024


def _checked_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON-ready copy (UUIDs and datetimes become strings), or ValueError.

    A secret-like key here is a bug in our own code, not bad input: the caller gets a
    ValueError (a 500 if it escapes), and an endpoint that passes details it received
    from a client must check them first with `require_clean_details` (422).
    """
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise ValueError("audit details must be a mapping")
    paths = secret_keys(details)
    if paths:
        raise ValueError(f"audit details carry secret-like keys: {', '.join(paths)}")
    try:
        encoded = json.dumps(details, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details are not JSON: {exc}") from exc
    if len(encoded.encode()) > MAX_DETAILS_BYTES:
        raise ValueError(f"audit details exceed {MAX_DETAILS_BYTES} bytes")
    copy: dict[str, Any] = json.loads(encoded)
    return copy


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal | Enum):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def require_clean_details(details: object) -> None:
    """For details that come from outside: refuse secret-like keys with a 422."""
    paths = secret_keys(details)
    if paths:
        raise ProblemError(422, "details must not contain secret-like keys", secret_keys=paths[:20])


async def record(
    session: AsyncSession,
    *,
    action: str,
    actor: Principal | None = None,
    actor_id: uuid.UUID | None = None,
    actor_role: str | None = None,
    subject_user_id: uuid.UUID | None = None,
    resource: str | None = None,
    details: Mapping[str, Any] | None = None,
    actor_email: str | None = None,
    subject_email: str | None = None,
    request_id: str | None = None,
    service: str = SERVICE,
    at: datetime | None = None,
    redacted: bool = False,
) -> int:
    """Append one row; returns its id. Emails are snapshotted from `users` when not given.

    `actor` (the request's principal) fills actor_id and actor_role; without any
    actor the row is the system's. The request id defaults to the current request's.
    """
    if not action or len(action) > MAX_ACTION_LENGTH:
        raise ValueError(f"audit action must be 1..{MAX_ACTION_LENGTH} characters")
    clean = _checked_details(details)
    if actor is not None:
        actor_id = actor_id or actor.user_id
        actor_role = actor_role or actor.role
    missing = {
        uid
        for uid, email in ((actor_id, actor_email), (subject_user_id, subject_email))
        if uid is not None and email is None
    }
    emails = await repository.emails_of(session, missing)
    values: dict[str, Any] = {
        "actor_id": actor_id,
        "actor_email": actor_email or (emails.get(actor_id) if actor_id else None),
        "actor_role": actor_role or actions.SYSTEM_ROLE,
        "action": action,
        "subject_user_id": subject_user_id,
        "subject_email": subject_email
        or (emails.get(subject_user_id) if subject_user_id else None),
        "resource": resource,
        "details": clean,
        "request_id": request_id or request_id_var.get(),
        "service": service,
        "redacted": redacted,
    }
    if at is not None:
        values["at"] = at
    return await repository.insert_entry(session, values)


async def record_now(sessionmaker: async_sessionmaker[AsyncSession], **fields: Any) -> int:
    """`record` in a transaction of its own, committed before this returns."""
    async with sessionmaker() as session, session.begin():
        return await record(session, **fields)


async def handle_audit_recorded(session: AsyncSession, event: Envelope) -> None:
    """Consumer of `audit.recorded`: other services' audit rows land here.

    Secret-like keys are stripped rather than the event dead-lettered: the fact that
    something happened is worth keeping, the credential is not. The row is flagged
    `redacted` and the paths are logged so the producer can be fixed.
    """
    payload = AuditRecordedIn.model_validate(event.payload)
    details, removed = redact(payload.details)
    if removed:
        log.warning(
            "secret-like keys stripped from an audit event",
            extra={"producer": event.producer, "event_id": str(event.id), "paths": removed},
        )
    await record(
        session,
        action=payload.action,
        actor_id=payload.actor_id,
        actor_role=payload.actor_role,
        subject_user_id=payload.subject_user_id,
        resource=payload.resource,
        details=details,
        request_id=event.request_id,
        service=event.producer,
        at=event.occurred_at,
        redacted=bool(removed),
    )


async def search(
    session: AsyncSession, principal: Principal, where: AuditFilter, limit: int
) -> tuple[list[AuditEntry], int | None]:
    """One page for an admin; the read itself is audited (the log holds personal data)."""
    admin = await current_admin(session, principal)
    entries = await repository.page(session, where, limit)
    next_cursor = entries[-1].id if len(entries) == limit else None
    await record(
        session,
        action=actions.AUDIT_READ,
        actor_id=admin.id,
        actor_role=admin.role,
        actor_email=admin.email,
        resource="audit_log",
        details={"filters": _describe(where), "limit": limit, "returned": len(entries)},
    )
    return entries, next_cursor


def _describe(where: AuditFilter) -> dict[str, str]:
    described: dict[str, str] = {}
    for name, value in asdict(where).items():
        if value is None:
            continue
        described[name] = value.isoformat() if isinstance(value, datetime) else str(value)
    return described


def as_utc(moment: datetime | None) -> datetime | None:
    """A filter bound without an offset is read as UTC; one that leaves the calendar
    once shifted to UTC (year 1 at -23:59) is a 422, not an overflow deeper down."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ProblemError(422, "timestamp out of range") from exc
