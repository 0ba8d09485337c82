"""The one way ingest talks to a provider: allow-listed hosts, bounded time and size.

A provider is the outside world (checklist item 45, OWASP API10): its answer may
be huge, malformed, slow, or a redirect to somewhere we never meant to call
(127.0.0.1, a cloud metadata address). So every call goes to an allow-listed
https host, never follows a redirect, reads the body as a stream and stops past
the cap, and has one deadline for the whole exchange (httpx's own timeouts are
per read, which a server dripping one byte at a time never trips). Answers are
turned into a few exception types the jobs runner knows how to schedule.

Nothing here logs a URL's query, a header or a body: tokens travel in all three.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger("aurora.ingest.providers.http")
# httpx logs every request's full URL at INFO, and a provider URL may carry a token
# in its query. configure_logging quiets it too; this holds even where a process
# configured logging another way (tests, an embedding application).
logging.getLogger("httpx").setLevel(logging.WARNING)

USER_AGENT = "aurora-ingest/0.1"


class ProviderError(Exception):
    """A provider said no in a way the caller does not special-case.

    `status` is the HTTP status when there was an answer; `error_code` is the
    OAuth `error` field (e.g. "invalid_grant") when the body carried one.
    """

    def __init__(
        self, reason: str, *, status: int | None = None, error_code: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.error_code = error_code


class ProviderRateLimited(ProviderError):  # noqa: N818 (contract name)
    """The provider (or our own budget) asks us to wait until `retry_at` (UTC)."""

    def __init__(self, reason: str, *, retry_at: datetime, status: int | None = None) -> None:
        super().__init__(reason, status=status)
        self.retry_at = retry_at


class ProviderAuthError(ProviderError):
    """401/403: the token is invalid, expired or revoked at the provider."""


class ProviderNotFound(ProviderError):  # noqa: N818 (contract name)
    """404: for Strava deletions this is the only proof that something is gone."""


class ProviderUnavailable(ProviderError):  # noqa: N818 (contract name)
    """Transient or unsafe: 5xx, timeout, network, body too big, redirect, bad JSON."""


class ProviderHostRefusedError(ProviderError):
    """The URL is not https on an allow-listed host; nothing was sent."""


@dataclass(frozen=True)
class ProviderResponse:
    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        try:
            return jsonlib.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProviderUnavailable("malformed JSON", status=self.status) from exc


RetryAt = Callable[[httpx.Response, datetime], datetime]


def _error_code(body: bytes) -> str | None:
    """The OAuth `error` code of an error body, when it has one (short, never a token)."""
    try:
        document = jsonlib.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    code = document.get("error") if isinstance(document, dict) else None
    return code[:64] if isinstance(code, str) else None


class ProviderHttp:
    def __init__(
        self,
        *,
        allowed_hosts: frozenset[str],
        timeout_s: float,
        max_body_bytes: int,
        retry_at: RetryAt,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.timeout_s = timeout_s
        self.max_body_bytes = max_body_bytes
        self._retry_at = retry_at
        self._clock = clock or (lambda: datetime.now(UTC))
        # trust_env=False: no proxy or netrc from the environment decides where tokens go.
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            timeout=httpx.Timeout(timeout_s),
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def _check_url(self, url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ProviderHostRefusedError("invalid provider URL") from exc
        if parsed.scheme != "https" or parsed.host.lower() not in self.allowed_hosts:
            raise ProviderHostRefusedError(f"refused to call {parsed.scheme}://{parsed.host}")
        return parsed

    async def request(
        self,
        method: str,
        url: str,
        *,
        bearer: str | None = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> ProviderResponse:
        target = self._check_url(url)
        all_headers = dict(headers or {})
        if bearer is not None:
            all_headers["Authorization"] = f"Bearer {bearer}"
        request = self._client.build_request(
            method, target, params=params, data=data, json=json, headers=all_headers
        )
        where = f"{method} {target.host}{target.path}"
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._client.send(request, stream=True)
                try:
                    body = await self._read_capped(response)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            log.warning("provider call timed out", extra={"call": where})
            raise ProviderUnavailable(f"timeout after {self.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:
            log.warning("provider call failed", extra={"call": where, "error": type(exc).__name__})
            raise ProviderUnavailable(f"network error: {type(exc).__name__}") from exc
        log.debug("provider call", extra={"call": where, "status": response.status_code})
        return self._outcome(response, body)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise ProviderUnavailable(
                f"body of {declared} bytes exceeds {self.max_body_bytes}",
                status=response.status_code,
            )
        chunks: list[bytes] = []
        size = 0
        # aiter_bytes yields decoded bytes: a gzip bomb is capped after inflation.
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise ProviderUnavailable(
                    f"body exceeds {self.max_body_bytes} bytes", status=response.status_code
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _outcome(self, response: httpx.Response, body: bytes) -> ProviderResponse:
        status = response.status_code
        if 200 <= status < 300:
            return ProviderResponse(status=status, headers=response.headers, body=body)
        if 300 <= status < 400:
            raise ProviderUnavailable("redirect refused", status=status)
        if status == 429:
            retry_at = self._retry_at(response, self._clock())
            raise ProviderRateLimited("rate limited by provider", retry_at=retry_at, status=status)
        code = _error_code(body)
        if status in (401, 403):
            raise ProviderAuthError(
                f"provider refused the token ({status})", status=status, error_code=code
            )
        if status == 404:
            raise ProviderNotFound("not found at provider", status=status)
        if status >= 500:
            raise ProviderUnavailable(f"provider error {status}", status=status)
        detail = f" ({code})" if code else ""
        raise ProviderError(f"provider answered {status}{detail}", status=status, error_code=code)

    async def aclose(self) -> None:
        await self._client.aclose()


__all__ = [
    "ProviderAuthError",
    "ProviderError",
    "ProviderHostRefusedError",
    "ProviderHttp",
    "ProviderNotFound",
    "ProviderRateLimited",
    "ProviderResponse",
    "ProviderUnavailable",
    "RetryAt",
]
