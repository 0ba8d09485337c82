"""Prometheus metrics per service process.

Route templates (not raw paths) label the HTTP metrics so that ids in URLs cannot
explode the series count.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "aurora_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "aurora_http_request_duration_seconds", "HTTP latency", ["service", "method", "route"]
)
BUS_PUBLISHED = Counter("aurora_bus_published_total", "Outbox rows relayed", ["service", "stream"])
BUS_CONSUMED = Counter(
    "aurora_bus_consumed_total", "Events handled", ["service", "stream", "group", "outcome"]
)
BUS_DEAD_LETTERED = Counter(
    "aurora_bus_dead_lettered_total", "Events moved to a DLQ", ["service", "stream", "group"]
)
BUS_RECLAIMED = Counter(
    "aurora_bus_reclaimed_total", "Entries reclaimed by XAUTOCLAIM", ["service", "stream", "group"]
)
BUS_REPLAYED = Counter(
    "aurora_bus_reconciled_total", "Outbox rows re-relayed after Redis lost data", ["service"]
)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(time.perf_counter() - start)


def install_metrics(app: FastAPI, service: str) -> None:
    app.add_middleware(MetricsMiddleware, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
