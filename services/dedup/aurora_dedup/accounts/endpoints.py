"""`/timeline/me/export`: dedup's part of the user's data export (identity assembles it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from aurora_dedup.accounts import service
from aurora_dedup.accounts.access import Caller
from aurora_dedup.health import service as health
from aurora_shared.export import export_response

router = APIRouter(tags=["accounts"])


@router.get(
    "/timeline/me/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}}},
)
async def export_my_timeline(request: Request, principal: Caller) -> StreamingResponse:
    """The caller's timeline and every source record behind it, as one streamed document."""
    user_id = principal.user_id
    return export_response(
        request,
        service="dedup",
        user_id=user_id,
        sections={
            "timeline": lambda session: service.exported_workouts(session, user_id),
            "source_records": lambda session: service.exported_source_records(session, user_id),
            "health_days": lambda session: health.exported_health_days(session, user_id),
            "health_records": lambda session: health.exported_health_records(session, user_id),
        },
    )
