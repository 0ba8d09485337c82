"""`/analytics/me/export`: analytics' part of the user's data export (identity assembles it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from aurora_analytics.accounts import service
from aurora_analytics.accounts.access import Caller
from aurora_shared.export import export_response

router = APIRouter(tags=["accounts"])


@router.get(
    "/analytics/me/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}}},
)
async def export_my_analytics(request: Request, principal: Caller) -> StreamingResponse:
    """The caller's workouts as analytics holds them, as one streamed JSON document."""
    user_id = principal.user_id
    return export_response(
        request,
        service="analytics",
        user_id=user_id,
        sections={"workouts": lambda session: service.exported_workouts(session, user_id)},
    )
