"""Fetching the other services' parts of an export over HTTP.

The URLs come from settings, never from a request. Each fetch is bounded in
time (connect, per-read and overall) and in size (counted after decompression),
redirects are not followed, and a failure of one source becomes an error entry
in the archive rather than a failed export.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping

import httpx

from aurora_identity.gdpr.schemas import SourceResult

log = logging.getLogger("aurora.identity.export")


class _TooLargeError(Exception):
    pass


def _error(reason: str) -> SourceResult:
    return SourceResult(status="error", error=reason)


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _TooLargeError
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise _TooLargeError
    return bytes(body)


async def fetch_source(
    client: httpx.AsyncClient, url: str, token: str, *, timeout_s: float, max_bytes: int
) -> SourceResult:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    return _error(f"answered HTTP {response.status_code}")
                body = await _read_capped(response, max_bytes)
        return SourceResult(status="ok", data=json.loads(body))
    except (TimeoutError, httpx.TimeoutException):
        return _error("timed out")
    except _TooLargeError:
        return _error(f"answer larger than {max_bytes} bytes")
    except httpx.HTTPError as exc:
        return _error(f"unreachable ({type(exc).__name__})")
    except (ValueError, RecursionError):  # bad JSON or UTF-8, or absurd nesting
        return _error("answer is not valid JSON")


async def collect(
    sources: Mapping[str, str], token: str, *, timeout_s: float, max_bytes: int
) -> dict[str, SourceResult]:
    """Every source at once; the caller's own token, so each service exports only them."""
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        names = list(sources)
        results = await asyncio.gather(
            *(
                fetch_source(client, sources[name], token, timeout_s=timeout_s, max_bytes=max_bytes)
                for name in names
            )
        )
    for name, result in zip(names, results, strict=True):
        if result.status == "error":
            log.warning("export source failed", extra={"source": name, "error": result.error})
    return dict(zip(names, results, strict=True))
