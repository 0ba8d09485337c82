"""Process-level supervision of bus components: a crash must be visible to the supervisor."""

from __future__ import annotations

import asyncio
import os
import signal

from aurora_shared.bus.runtime import every, run_until_stopped


async def _until_stopped(stop: asyncio.Event) -> None:
    await stop.wait()


async def test_sigterm_stops_every_component_cleanly() -> None:
    stopped: list[str] = []

    async def component(stop: asyncio.Event) -> None:
        await stop.wait()
        stopped.append("done")

    async def terminate_soon() -> None:
        await asyncio.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = asyncio.create_task(terminate_soon())
    assert await run_until_stopped([component, component]) is True
    await killer
    assert stopped == ["done", "done"]
    # The handlers are removed again: SIGTERM would otherwise be swallowed later.
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.default_int_handler)


async def test_a_crashing_component_stops_the_others_and_reports_failure() -> None:
    async def crash(stop: asyncio.Event) -> None:
        raise RuntimeError("boom")

    assert await run_until_stopped([crash, _until_stopped]) is False


async def test_a_component_returning_early_counts_as_failure() -> None:
    async def quits(stop: asyncio.Event) -> None:
        return None

    assert await run_until_stopped([quits, _until_stopped]) is False


async def test_periodic_task_survives_failures() -> None:
    calls = 0
    stop = asyncio.Event()

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls >= 3:
            stop.set()
        raise ValueError("transient")

    await asyncio.wait_for(every(stop, 0.01, flaky, "flaky"), timeout=5)
    assert calls >= 3
