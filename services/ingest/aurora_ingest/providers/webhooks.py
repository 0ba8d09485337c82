"""What every provider's webhook receiver shares: the bounded read of the raw body.

Signatures are computed over the exact bytes, so receivers read the body
themselves instead of letting FastAPI parse it, and nobody may make them
buffer more than a real event could ever be: a declared or streamed size past
the cap is a 413 before the rest is read.
"""

from __future__ import annotations

from fastapi import Request

from aurora_shared.errors import ProblemError


def _too_large(max_bytes: int) -> ProblemError:
    return ProblemError(413, f"a webhook event is at most {max_bytes} bytes")


async def read_capped_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(body)
