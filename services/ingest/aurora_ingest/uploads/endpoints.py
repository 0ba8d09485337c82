"""/uploads: send activity files, follow their import, cancel it.

POST reads the body itself instead of declaring a form parameter: FastAPI would
parse (and spool) the whole multipart body before the route runs, and the limit
must bite before that (413 on Content-Length, then on the bytes received).
Authentication runs first, as a dependency, so an anonymous body is never read.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from aurora_ingest.accounts.access import Caller
from aurora_ingest.uploads import service, storage
from aurora_ingest.uploads.schemas import UploadDetail, UploadOut, UploadPage
from aurora_ingest.uploads.settings import UploadSettings, upload_settings
from aurora_shared.db import request_session
from aurora_shared.errors import ProblemError

router = APIRouter(prefix="/uploads", tags=["uploads"])

Session = Annotated[AsyncSession, Depends(request_session)]
Settings = Annotated[UploadSettings, Depends(upload_settings)]
MAX_PAGE = 100

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "a .fit file, or a .zip of .fit files",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=202,
    response_model=UploadDetail,
    openapi_extra=_UPLOAD_BODY,
    responses={413: {"description": "The body exceeds the upload limit"}},
)
async def post_upload(
    *,
    request: Request,
    response: Response,
    principal: Caller,
    session: Session,
    settings: Settings,
    kind: Literal["fit", "apple_health"] = "fit",
) -> UploadDetail:
    """202 with the queued upload; a single FIT file is checked in the request and a
    broken or non-activity file answers 422 with the precise reason. `kind=apple_health`
    takes an iPhone export (export.zip or export.xml), imported in the background."""
    storage.check_declared_length(request.headers.get("content-length"), settings.upload_max_bytes)
    received = await storage.receive(
        request.stream(),
        content_type=request.headers.get("content-type"),
        settings=settings,
        user_id=principal.user_id,
    )
    try:
        upload = await service.accept(
            session, user_id=principal.user_id, kind=kind, received=received, settings=settings
        )
    except BaseException:
        await asyncio.to_thread(storage.remove_stored, settings, received.stored_as)
        raise
    response.headers["Location"] = f"/uploads/{upload.id}"
    return UploadDetail.of_upload(upload, [])


@router.get("", response_model=UploadPage)
async def list_uploads(
    *,
    principal: Caller,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    before: AwareDatetime | None = None,
    before_id: uuid.UUID | None = None,
) -> UploadPage:
    """Newest first, without per-file results (GET /uploads/{id} has them)."""
    if before_id is not None and before is None:
        raise ProblemError(422, "before_id needs before")
    uploads = await service.page(
        session, user_id=principal.user_id, limit=limit, before=before, before_id=before_id
    )
    last = uploads[-1] if len(uploads) == limit else None
    return UploadPage(
        items=[UploadOut.of(u) for u in uploads],
        next_before=last.created_at if last else None,
        next_before_id=last.id if last else None,
    )


@router.get("/{upload_id}", response_model=UploadDetail)
async def get_upload(upload_id: uuid.UUID, principal: Caller, session: Session) -> UploadDetail:
    """Status, progress and every file's result; another user's upload answers 404."""
    upload, files = await service.get(session, user_id=principal.user_id, upload_id=upload_id)
    return UploadDetail.of_upload(upload, list(files))


@router.post("/{upload_id}/cancel", response_model=UploadOut)
async def cancel_upload(
    upload_id: uuid.UUID, principal: Caller, session: Session, settings: Settings
) -> UploadOut:
    """Stops the import between two files (409 once finished); imported files stay."""
    upload = await service.cancel(
        session, user_id=principal.user_id, upload_id=upload_id, settings=settings
    )
    return UploadOut.of(upload)
