"""Running bus components as long-lived processes with a clean Ctrl-C / SIGTERM.

One relay process per service runs the relay, the reconciler, the trimmer of the
streams it produces and the outbox pruning; one worker process runs that
service's consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from redis.asyncio import Redis

from aurora_shared.bus.reconciler import OutboxReconciler
from aurora_shared.bus.trimmer import trim_stream

log = logging.getLogger("aurora.bus.runtime")

Component = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def make_redis(url: str, *, socket_timeout_s: float = 10.0) -> Redis:
    """A Redis that stops answering (a partition, not a refusal) must not block a relay
    or consumer forever; the timeout sits well above the consumers' blocking reads."""
    client: Redis = Redis.from_url(
        url,
        decode_responses=True,
        health_check_interval=30,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=5.0,
    )
    return client


async def every(
    stop: asyncio.Event, interval_s: float, action: Callable[[], Awaitable[object]], name: str
) -> None:
    """Run `action` periodically; a failure is logged and retried next period."""
    while not stop.is_set():
        try:
            await action()
        except Exception:
            log.exception("periodic task failed", extra={"task": name})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)


def maintenance_components(
    reconciler: OutboxReconciler,
    redis: Redis,
    streams: Sequence[str],
    *,
    reconcile_interval_s: float,
    trim_interval_s: float,
    retention_s: int,
) -> list[Component]:
    async def trim_all() -> None:
        for stream in streams:
            await trim_stream(redis, stream, retention_s)
            await trim_stream(redis, f"{stream}.dlq", retention_s)

    async def prune() -> None:
        await reconciler.prune_published()

    return [
        lambda stop: every(stop, reconcile_interval_s, reconciler.reconcile_once, "reconcile"),
        lambda stop: every(stop, trim_interval_s, trim_all, "trim"),
        lambda stop: every(stop, trim_interval_s, prune, "prune-outbox"),
    ]


async def run_until_stopped(components: Sequence[Component]) -> bool:
    """Run components until SIGINT/SIGTERM, then let each finish its current step.

    Returns False when a component crashed, so the process can exit non-zero and a
    supervisor that restarts failed processes restarts it.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        return await _supervise(components, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def _supervise(components: Sequence[Component], stop: asyncio.Event) -> bool:
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(c(stop)) for c in components]
    done, _ = await asyncio.wait(
        [*tasks, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    crashed = False
    for task in done:
        if task in tasks and task.exception() is not None:
            crashed = True
            log.error("component crashed", exc_info=task.exception())
        elif task in tasks and not stop.is_set():
            crashed = True
            log.error("component returned before stop was requested")
    stop.set()
    finished, pending = await asyncio.wait(tasks, timeout=10)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in finished:
        if not task.cancelled() and task.exception() is not None and not crashed:
            crashed = True
            log.error("component failed while stopping", exc_info=task.exception())
    return not crashed
