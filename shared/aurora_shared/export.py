"""A user's data as one streamed JSON document (GDPR Art. 15/20, checklist 49).

Identity's export asks every service for its part with the user's own token.
The document is written while the rows are read, a batch at a time, so its size
is bounded by the user's data, not by the server's memory; all sections are read
in one REPEATABLE READ transaction, so they agree with each other.

The request's own session cannot serve the stream: it is committed and closed
before the response body is sent, so the stream opens its own.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("aurora.export")

Section = Callable[[AsyncSession], AsyncIterator[BaseModel]]
EXPORT_BATCH = 500


def export_response(
    request: Request,
    *,
    service: str,
    user_id: uuid.UUID,
    sections: Mapping[str, Section],
) -> StreamingResponse:
    """`{"service", "user_id", "exported_at", <section>: [...], ...}`, streamed."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.runtime.sessionmaker
    header = {
        "service": service,
        "user_id": str(user_id),
        "exported_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    return StreamingResponse(
        _document(sessionmaker, header, sections),
        media_type="application/json",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="aurora-{service}-export.json"',
        },
    )


async def _document(
    sessionmaker: async_sessionmaker[AsyncSession],
    header: dict[str, Any],
    sections: Mapping[str, Section],
) -> AsyncIterator[str]:
    yield json.dumps(header)[:-1]
    async with sessionmaker() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        try:
            for name, rows in sections.items():
                yield f", {json.dumps(name)}: ["
                first = True
                async for item in rows(session):
                    yield ("" if first else ", ") + item.model_dump_json()
                    first = False
                yield "]"
        except Exception:
            # Headers are gone already: the client sees a truncated, invalid document.
            log.exception("export failed mid-stream", extra={"service": header["service"]})
            raise
        finally:
            await session.rollback()
    yield "}"
