"""`/records/me/export`: ingest's part of the user's data export (identity assembles it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from aurora_ingest.accounts import service
from aurora_ingest.accounts.access import Caller
from aurora_ingest.uploads import service as uploads_service
from aurora_shared.export import export_response

router = APIRouter(tags=["accounts"])


@router.get(
    "/records/me/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}}},
)
async def export_my_records(request: Request, principal: Caller) -> StreamingResponse:
    """Every record of the caller (removed ones included), their provider connections
    (never the tokens) and every payload a provider sent about them, streamed."""
    user_id = principal.user_id
    return export_response(
        request,
        service="ingest",
        user_id=user_id,
        sections={
            "records": lambda session: service.exported_records(session, user_id),
            "connections": lambda session: service.exported_connections(session, user_id),
            "raw_payloads": lambda session: service.exported_raw_payloads(session, user_id),
            "uploads": lambda session: uploads_service.exported_uploads(session, user_id),
        },
    )
