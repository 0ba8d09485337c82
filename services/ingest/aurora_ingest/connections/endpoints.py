"""/connections/*: connect a provider account, see its state, sync it, disconnect it.

Every route but the callback takes the caller from their bearer token. The
callback is where the provider sends the user's browser back: it carries no
token, so the signed, single-use `state` says whose connection it is, and it
answers JSON for the frontend to act on (no redirect of our own).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.accounts.access import Caller
from aurora_ingest.connections import oauth, service
from aurora_ingest.connections.models import PROVIDERS
from aurora_ingest.connections.schemas import (
    AuthorizeOut,
    ConnectionList,
    ConnectionOut,
    SyncQueued,
)
from aurora_ingest.providers.crypto import TokenCipherNotConfiguredError, TokenDecryptError
from aurora_ingest.providers.http import ProviderError, ProviderRateLimited
from aurora_ingest.providers.kit import ProviderKit, kit_of
from aurora_shared.db import request_session
from aurora_shared.errors import NotFoundError, ProblemError

log = logging.getLogger("aurora.ingest.connections")

router = APIRouter(prefix="/connections", tags=["connections"])

Session = Annotated[AsyncSession, Depends(request_session)]
Kit = Annotated[ProviderKit, Depends(kit_of)]

DECRYPT_TITLE = "stored provider credentials cannot be decrypted"
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


MAX_CONNECTIONS = 20


def _provider(provider: str) -> str:
    if provider not in PROVIDERS:
        raise NotFoundError("provider")
    return provider


@contextmanager
def _provider_problems(provider: str) -> Iterator[None]:
    """Provider and configuration failures as problem documents, never a bare 500."""
    try:
        yield
    except (oauth.ProviderNotConfiguredError, TokenCipherNotConfiguredError) as exc:
        raise ProblemError(503, f"{provider} connections are not configured here") from exc
    except TokenDecryptError as exc:
        # Loud: a lost or wrong key is an operator's emergency, never "not connected".
        log.error("provider token decryption failed", extra={"provider": provider})
        raise ProblemError(
            500,
            "the stored credentials of this connection cannot be decrypted; an operator"
            " has to restore the encryption key",
            title=DECRYPT_TITLE,
        ) from exc
    except ProviderRateLimited as exc:
        wait = max(int((exc.retry_at - datetime.now(UTC)).total_seconds()), 1)
        raise ProblemError(
            503,
            f"{provider} is rate limiting us; try again later",
            headers={"Retry-After": str(wait)},
        ) from exc
    except ProviderError as exc:
        raise ProblemError(502, f"{provider} could not be reached: {exc.reason}") from exc


@router.get("", response_model=ConnectionList)
async def list_connections(
    principal: Caller,
    session: Session,
    # One connection per provider, so a page is never long; the bound is there
    # because every list endpoint has one (checklist 39).
    limit: Annotated[int, Query(ge=1, le=MAX_CONNECTIONS)] = MAX_CONNECTIONS,
) -> ConnectionList:
    """The caller's connections, revoked ones included, with a reconnect hint when broken."""
    rows = await service.list_connections(session, principal.user_id)
    return ConnectionList(items=[ConnectionOut.of(row) for row in rows[:limit]])


@router.get("/{provider}/authorize", response_model=AuthorizeOut)
async def authorize(provider: str, principal: Caller, kit: Kit) -> AuthorizeOut:
    """Where to send the browser; the state in it expires after a few minutes."""
    name = _provider(provider)
    with _provider_problems(name):
        url = service.authorize(kit, user_id=principal.user_id, provider=name)
    return AuthorizeOut(authorize_url=url)


@router.get("/{provider}/callback", response_model=ConnectionOut)
async def callback(
    provider: str,
    *,
    session: Session,
    kit: Kit,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    scope: str | None = None,
) -> ConnectionOut:
    """The provider's redirect back. No bearer token: the signed state names the user."""
    name = _provider(provider)
    if error is not None:
        if error == "access_denied":
            raise ProblemError(
                400,
                f"consent was denied on {name}; nothing was connected",
                title="Consent denied",
                type_=f"{service.PROBLEM_BASE}/consent-denied",
            )
        shown = error if _ERROR_CODE.match(error) else "unknown"
        raise ProblemError(
            400,
            f"{name} did not authorize the connection ({shown}); nothing was connected",
            type_=f"{service.PROBLEM_BASE}/authorization-failed",
        )
    with _provider_problems(name):
        connection = await service.complete_connect(
            kit, session, provider=name, code=code, state=state, granted_scope=scope
        )
    return ConnectionOut.of(connection)


@router.delete("/{provider}", status_code=204, response_class=Response)
async def disconnect(provider: str, principal: Caller, session: Session, kit: Kit) -> Response:
    """Revoke with the provider (best effort) and here (always); syncs stop at once."""
    name = _provider(provider)
    with _provider_problems(name):
        await service.disconnect(kit, session, user_id=principal.user_id, provider=name)
    return Response(status_code=204)


@router.post("/{provider}/sync", status_code=202, response_model=SyncQueued)
async def sync(provider: str, principal: Caller, session: Session) -> SyncQueued:
    """Queue a backfill; a pending one absorbs the request."""
    name = _provider(provider)
    await service.request_sync(session, user_id=principal.user_id, provider=name)
    return SyncQueued(provider=name)
