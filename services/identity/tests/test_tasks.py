"""The scheduled-jobs process: an arq worker running the purge hourly."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from arq.connections import RedisSettings
from arq.worker import Worker

from aurora_identity import tasks
from aurora_identity.config import IdentitySettings
from aurora_identity.main import SPEC
from aurora_shared.service import service_cli

Login = Callable[[str], Awaitable[str]]


def test_worker_runs_the_purge_hourly_and_at_startup() -> None:
    settings = tasks.WorkerSettings
    assert tasks.purge_accounts in settings.functions
    [job] = settings.cron_jobs
    assert job.coroutine is tasks.purge_accounts
    assert job.minute == 17
    assert job.hour is None  # every hour
    assert job.run_at_startup
    assert job.unique  # several workers never run one slot twice
    assert settings.queue_name == "aurora:identity:arq"  # apart from other services' queues


def test_identity_has_a_tasks_role(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    spec = dataclasses.replace(SPEC, tasks=lambda: ran.append("tasks"))
    service_cli(spec, ["tasks"])
    assert ran == ["tasks"]
    assert SPEC.tasks is not None


def test_services_without_jobs_have_no_tasks_role() -> None:
    spec = dataclasses.replace(SPEC, tasks=None)
    with pytest.raises(SystemExit):
        service_cli(spec, ["tasks"])


async def test_the_arq_worker_really_purges(
    client: httpx.AsyncClient,
    signup: Login,
    db: asyncpg.Connection,
    settings: IdentitySettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One burst of the real worker against the test Redis: the startup run purges."""
    token = await signup("arq@example.com")
    response = await client.request(
        "DELETE",
        "/users/me",
        headers={"Authorization": f"Bearer {token}"},
        json={"password": "correct horse battery staple"},
    )
    assert response.status_code == 202
    await db.execute("UPDATE identity.users SET deleted_at = now() - interval '31 days'")
    monkeypatch.setattr(tasks, "get_settings", lambda: settings)
    config = tasks.WorkerSettings
    worker = Worker(
        functions=config.functions,
        cron_jobs=config.cron_jobs,
        on_startup=config.on_startup,
        on_shutdown=config.on_shutdown,
        queue_name=config.queue_name,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    try:
        await asyncio.wait_for(worker.main(), timeout=30)
    finally:
        await worker.close()
    assert worker.jobs_complete == 1
    assert worker.jobs_failed == 0
    assert await db.fetchval("SELECT count(*) FROM identity.users") == 0
    assert (
        await db.fetchval("SELECT count(*) FROM identity.outbox WHERE event_type = 'user.purged'")
        == 1
    )
