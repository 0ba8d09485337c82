"""What every service process is made of: the app factory and the long-running roles.

Each service is started as three kinds of process: `serve` (the ASGI app),
`worker` (its stream consumers) and `relay` (outbox relay, reconciler, trimming).
They share this plumbing so that the four services behave identically.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from redis.asyncio import Redis
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aurora_shared.auth import JwksClient, KeySource, TokenVerifier, current_principal
from aurora_shared.bus.consumer import BatchHandler, Handler, StreamConsumer
from aurora_shared.bus.reconciler import OutboxReconciler
from aurora_shared.bus.relay import OutboxRelay
from aurora_shared.bus.runtime import (
    Component,
    maintenance_components,
    make_redis,
    run_until_stopped,
)
from aurora_shared.config import ServiceSettings
from aurora_shared.db import make_engine, make_sessionmaker
from aurora_shared.errors import document_problems, install_problem_handlers, problem_response
from aurora_shared.logging import RequestIdMiddleware, configure_logging
from aurora_shared.metrics import install_metrics


@dataclass
class Runtime:
    settings: ServiceSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis

    @classmethod
    def open(cls, settings: ServiceSettings, *, pre_ping: bool = True) -> Runtime:
        """Workers and relays open it with pre_ping=False: they retry a transaction that met
        a dropped connection (faults.is_transient), and a ping per transaction nearly
        doubled the database round trips per event when events trickle in one by one."""
        engine = make_engine(
            settings.database_url, pool_size=settings.db_pool_size, pre_ping=pre_ping
        )
        return cls(settings, engine, make_sessionmaker(engine), make_redis(settings.redis_url))

    async def close(self) -> None:
        await self.redis.aclose()
        await self.engine.dispose()


def _readiness_route(app: FastAPI) -> None:
    @app.get("/readyz", tags=["health"], response_model=None)
    async def readyz() -> object:
        """Ready only when both PostgreSQL and Redis answer within two seconds."""
        runtime: Runtime = app.state.runtime
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2):
                async with runtime.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            async with asyncio.timeout(2):
                await runtime.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unavailable: {type(exc).__name__}"
        if all(v == "ok" for v in checks.values()):
            return {"status": "ready", "checks": checks}
        return problem_response(503, "dependencies unavailable", checks=checks)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up; says nothing about its dependencies."""
        return {"status": "ok"}


def needs_principal(dependant: Dependant | None) -> bool:
    """Whether `current_principal` is anywhere in a route's dependency tree."""
    stack = [dependant] if dependant is not None else []
    while stack:
        node = stack.pop()
        if node.call is current_principal:
            return True
        stack.extend(node.dependencies)
    return False


def _protected_routes(app: FastAPI) -> list[Any]:
    """FastAPI >= 0.16x keeps included routers nested in `app.routes`; flatten them."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI flattens on include_router
        routes: Any = app.routes
    else:
        routes = iter_route_contexts(app.routes)
    return [r for r in routes if needs_principal(getattr(r, "dependant", None))]


def _document_problems(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            protected = {(m, r.path) for r in _protected_routes(app) for m in r.methods or ()}
            document_problems(generate(), protected)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _authenticate_if_protected(app: FastAPI) -> Callable[[Request], Awaitable[None]]:
    """FastAPI reads the body before any dependency, so a malformed body on a protected
    route would answer 422 to anyone; the problem handlers authenticate first."""

    async def authenticate(request: Request) -> None:
        route = request.scope.get("route")
        if any(getattr(r, "original_route", r) is route for r in _protected_routes(app)):
            await current_principal(request)

    return authenticate


def build_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    key_source: KeySource | None = None,
    on_startup: Sequence[Callable[[Runtime], Awaitable[None]]] = (),
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
) -> FastAPI:
    """`on_startup` hooks run after the runtime opens and before the first request is
    served; `on_shutdown` hooks run before it closes, in reverse order."""
    name = settings.service_name

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = Runtime.open(settings)
        try:
            for hook in on_startup:
                await hook(app.state.runtime)
            yield
        finally:
            for shutdown in reversed(on_shutdown):
                await shutdown()
            await app.state.runtime.close()

    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=f"/docs/{name}" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url=f"/openapi/{name}.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(
        key_source
        or JwksClient(
            settings.jwks_url,
            max_age_s=settings.jwks_max_age_s,
            stale_if_error_s=settings.jwks_stale_if_error_s,
        ),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    install_problem_handlers(app, authenticate_first=_authenticate_if_protected(app))
    install_metrics(app, name)
    app.add_middleware(RequestIdMiddleware)
    _readiness_route(app)
    for router in routers:
        app.include_router(router)
    _document_problems(app)
    return app


def consumer_name() -> str:
    """Stable per process; override with AURORA_CONSUMER_NAME to resume a PEL after restart."""
    return os.environ.get("AURORA_CONSUMER_NAME") or f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Subscription:
    """`batch_handlers` take a whole read batch of their types (StreamConsumer)."""

    stream: str
    handlers: dict[str, Handler]
    batch_handlers: dict[str, BatchHandler] = field(default_factory=dict)


def build_consumers(
    runtime: Runtime, inbox: Table, subscriptions: Sequence[Subscription]
) -> list[StreamConsumer]:
    settings = runtime.settings
    return [
        StreamConsumer(
            redis=runtime.redis,
            sessionmaker=runtime.sessionmaker,
            inbox=inbox,
            stream=sub.stream,
            group=settings.service_name,
            consumer=consumer_name(),
            handlers=sub.handlers,
            settings=settings.bus,
            service=settings.service_name,
            batch_handlers=sub.batch_handlers,
        )
        for sub in subscriptions
    ]


def run_worker(
    settings: ServiceSettings,
    inbox: Table,
    subscriptions: Callable[[], Sequence[Subscription]],
) -> None:
    _configure(settings, "worker")

    async def main() -> bool:
        runtime = Runtime.open(settings, pre_ping=False)
        try:
            consumers = build_consumers(runtime, inbox, subscriptions())
            return await run_until_stopped([c.run for c in consumers])
        finally:
            await runtime.close()

    if not asyncio.run(main()):
        raise SystemExit(1)


def relay_components(runtime: Runtime, schema: str, streams: Sequence[str]) -> list[Component]:
    settings = runtime.settings
    bus = settings.bus
    relay = OutboxRelay(
        runtime.engine,
        runtime.redis,
        schema,
        service=settings.service_name,
        batch_size=bus.relay_batch_size,
        poll_interval_s=bus.relay_poll_interval_s,
        linger_s=bus.relay_linger_ms / 1000,
    )
    reconciler = OutboxReconciler(
        runtime.engine,
        runtime.redis,
        schema,
        service=settings.service_name,
        window_s=bus.stream_retention_s,
    )
    return [
        relay.run,
        *maintenance_components(
            reconciler,
            runtime.redis,
            streams,
            reconcile_interval_s=bus.reconcile_interval_s,
            trim_interval_s=bus.trim_interval_s,
            retention_s=bus.stream_retention_s,
        ),
    ]


ExtraComponents = Callable[[Runtime], Sequence[Component]]


def run_relay(
    settings: ServiceSettings,
    schema: str,
    streams: Sequence[str],
    extra_components: ExtraComponents | None = None,
) -> None:
    """`extra_components`: a service's own periodic duties, supervised with the relay's."""
    _configure(settings, "relay")

    async def main() -> bool:
        runtime = Runtime.open(settings, pre_ping=False)
        try:
            components = relay_components(runtime, schema, streams)
            if extra_components is not None:
                components.extend(extra_components(runtime))
            return await run_until_stopped(components)
        finally:
            await runtime.close()

    if not asyncio.run(main()):
        raise SystemExit(1)


def _configure(settings: ServiceSettings, role: str) -> None:
    name = f"{settings.service_name}-{role}"
    configure_logging(name, settings.log_level, json_output=settings.log_json)
    port = settings.worker_metrics_port if role == "worker" else settings.relay_metrics_port
    if port is not None:
        from prometheus_client import start_http_server

        start_http_server(port, addr=settings.metrics_host)


def run_arq_tasks(worker_settings: type, settings: ServiceSettings) -> None:
    """Body of every service's `tasks` role: an arq worker on the service's Redis,
    logging like the service's other processes."""
    from arq.connections import RedisSettings
    from arq.typing import WorkerSettingsBase
    from arq.worker import run_worker

    configure_logging(
        f"{settings.service_name}-tasks", settings.log_level, json_output=settings.log_json
    )
    typed = cast("type[WorkerSettingsBase]", worker_settings)
    run_worker(typed, redis_settings=RedisSettings.from_dsn(settings.redis_url))


def migrations_path(package_file: str) -> Path:
    return Path(package_file).resolve().parent / "migrations"


@dataclass(frozen=True)
class ServiceSpec:
    """Everything the `aurora` command needs to run one service's processes."""

    name: str
    schema: str
    app_factory: str  # "module:function", for uvicorn --factory
    settings: Callable[[], ServiceSettings]
    inbox: Table
    produces: Sequence[str]
    subscriptions: Callable[[], Sequence[Subscription]]
    migrations: Path
    default_port: int
    # Run by the relay process next to the relay, reconciler and trimming.
    relay_extras: ExtraComponents | None = None
    # The `tasks` role (scheduled jobs, e.g. an arq worker), for services that have one.
    tasks: Callable[[], None] | None = None
    # Operator commands beyond the process roles: name -> (help, entry point).
    commands: Mapping[str, tuple[str, Callable[[], None]]] = field(default_factory=dict)

    def has_consumers(self) -> bool:
        return bool(self.subscriptions())

    def serve(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        import uvicorn

        settings = self.settings()
        configure_logging(settings.service_name, settings.log_level, json_output=settings.log_json)
        uvicorn.run(
            self.app_factory,
            factory=True,
            host=host,
            port=port or self.default_port,
            log_config=None,
            proxy_headers=True,
            forwarded_allow_ips="127.0.0.1",
        )

    def worker(self) -> None:
        run_worker(self.settings(), self.inbox, self.subscriptions)

    def relay(self) -> None:
        run_relay(self.settings(), self.schema, self.produces, self.relay_extras)

    def migrate(self, database_url: str | None = None) -> None:
        from aurora_shared.migrations import upgrade

        upgrade(self.migrations, database_url or self.settings().database_url)


def service_cli(spec: ServiceSpec, argv: Sequence[str]) -> None:
    """`python -m aurora_<svc> serve|worker|relay|migrate[|tasks]`, as the containers run it."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"aurora-{spec.name}")
    sub = parser.add_subparsers(dest="role", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=spec.default_port)
    sub.add_parser("worker", help="run the stream consumers")
    sub.add_parser("relay", help="run the outbox relay, reconciler and trimming")
    sub.add_parser("migrate", help="upgrade this service's schema to head")
    if spec.tasks is not None:
        sub.add_parser("tasks", help="run the scheduled jobs")
    for command, (help_text, _) in spec.commands.items():
        sub.add_parser(command, help=help_text)
    args = parser.parse_args(list(argv))
    if args.role in spec.commands:
        spec.commands[args.role][1]()
    elif args.role == "tasks" and spec.tasks is not None:
        spec.tasks()
    elif args.role == "serve":
        spec.serve(args.host, args.port)
    elif args.role == "worker":
        spec.worker()
    elif args.role == "relay":
        spec.relay()
    else:
        spec.migrate()
