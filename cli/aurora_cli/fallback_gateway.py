"""Pure-Python stand-in for the nginx gateway, for machines that have no nginx.

It answers like the rendered nginx config does (same ROUTES, body limits,
request-id rules and problem+json errors), so a developer without nginx sees the
behaviour production has. Bodies stream in both directions: a multi-GB upload
must never sit in this process's memory.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from starlette.types import Message, Receive, Scope, Send

from aurora_cli.gateway import (
    DEFAULT_BODY_LIMIT_KEY,
    GATEWAY_PROBLEMS,
    REQUEST_ID_RE,
    ROUTES,
    check_upstreams,
    normalize_path,
    parse_size,
    resolve_body_limits,
    route_prefix,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("aurora.gateway")

_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Replaced by the gateway's own values, as nginx does.
_REQUEST_DROP = _HOP_BY_HOP | {b"x-request-id", b"x-forwarded-proto"}
_RESPONSE_DROP = _HOP_BY_HOP | {b"x-request-id", b"date", b"server"}
_TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=300.0, pool=10.0)


class _BodyTooLargeError(Exception):
    pass


class _ClientGoneError(Exception):
    pass


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if REQUEST_ID_RE.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1)."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            tokens |= {t.strip().lower() for t in value.split(b",") if t.strip()}
    return tokens


class FallbackGateway:
    """ASGI app; run it under uvicorn in place of nginx."""

    def __init__(
        self, upstreams: Mapping[str, str], *, body_limits: Mapping[str, str] | None = None
    ) -> None:
        check_upstreams(upstreams)
        self._upstreams = {service: f"http://{address}" for service, address in upstreams.items()}
        limits = resolve_body_limits(body_limits)
        self._default_limit = parse_size(limits[DEFAULT_BODY_LIMIT_KEY])
        self._limits = {prefix: parse_size(size) for prefix, size in limits.items()}
        # trust_env=False: a proxy from the environment must not divert local
        # traffic. A jar that refuses everything: the gateway serves many users and
        # must never keep one's cookies.
        self._client = httpx.AsyncClient(
            timeout=_TIMEOUT,
            limits=httpx.Limits(
                max_connections=512, max_keepalive_connections=64, keepalive_expiry=4.0
            ),
            trust_env=False,
            follow_redirects=False,
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:  # websockets are not routed by the nginx gateway either
            await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        request_id = _request_id(headers)
        path = normalize_path(scope["path"])
        prefix = None if path is None else route_prefix(path)
        status = 0
        try:
            if path is None:
                status = await self._problem(send, 400, request_id)
            elif path == "/healthz":
                status = 200
                await _respond(send, 200, b'{"status":"ok"}', "application/json", request_id)
            elif prefix is None:
                status = await self._problem(send, 404, request_id)
            else:
                status = await self._proxy(scope, receive, send, prefix, request_id)
        finally:
            log.info(
                "gateway request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": path or scope["path"],
                    "status": status,
                    "upstream": ROUTES.get(prefix or ""),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )

    async def _proxy(
        self, scope: Scope, receive: Receive, send: Send, prefix: str, request_id: str
    ) -> int:
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        limit = self._limits.get(prefix, self._default_limit)
        declared = next((v for n, v in headers if n == b"content-length"), None)
        if declared is not None and (not declared.isdigit()):
            return await self._problem(send, 400, request_id)
        if declared is not None and limit is not None and int(declared) > limit:
            return await self._problem(send, 413, request_id)
        has_body = declared is not None or any(n == b"transfer-encoding" for n, _ in headers)

        drop = _REQUEST_DROP | _connection_tokens(headers)
        forwarded = [(n, v) for n, v in headers if n not in drop and n != b"x-forwarded-for"]
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        chain = [v.decode("latin-1") for n, v in headers if n == b"x-forwarded-for"]
        forwarded += [
            (b"x-forwarded-for", ", ".join([*chain, peer]).encode("latin-1")),
            (b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")),
            (b"x-request-id", request_id.encode("latin-1")),
        ]
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        request = httpx.Request(
            scope["method"],
            self._upstreams[ROUTES[prefix]] + target.decode("latin-1"),
            headers=forwarded,
            content=_body(receive, limit) if has_body else None,
        )
        try:
            response = await self._client.send(request, stream=True)
        except _BodyTooLargeError:
            return await self._problem(send, 413, request_id)
        except _ClientGoneError:
            return 499  # nginx's code for it; nobody is left to answer
        except httpx.TimeoutException:
            return await self._problem(send, 504, request_id)
        except httpx.TransportError:
            return await self._problem(send, 502, request_id)
        try:
            drop = _RESPONSE_DROP | _connection_tokens(list(response.headers.raw))
            out = [(n.lower(), v) for n, v in response.headers.raw if n.lower() not in drop]
            out.append((b"x-request-id", request_id.encode("latin-1")))
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": out}
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.TransportError:
            # Headers are gone already; leaving the response unfinished makes the
            # server drop the connection, which tells the client it was cut short.
            log.warning("upstream broke off the response", extra={"request_id": request_id})
        finally:
            await response.aclose()
        return response.status_code

    async def _problem(self, send: Send, status: int, request_id: str) -> int:
        title, detail = GATEWAY_PROBLEMS[status]
        body = {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "request_id": request_id,
        }
        await _respond(send, status, json.dumps(body).encode(), PROBLEM_MEDIA_TYPE, request_id)
        return status


async def _body(receive: Receive, limit: int | None) -> AsyncIterator[bytes]:
    """Relay the client's body chunk by chunk, enforcing the limit on chunked bodies too."""
    received = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGoneError
        chunk: bytes = message.get("body", b"")
        received += len(chunk)
        if limit is not None and received > limit:
            raise _BodyTooLargeError
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _respond(send: Send, status: int, body: bytes, media_type: str, request_id: str) -> None:
    headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode("latin-1")),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
