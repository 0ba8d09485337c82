"""Runs the suite's processes side by side on one machine, and stops them all.

Children get their own session so a terminal's Ctrl-C reaches only the
supervisor, which then stops them in order (SIGTERM, a grace period, SIGKILL):
every process exits through its own clean shutdown path.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None


@dataclass
class Supervisor:
    log_dir: Path
    env: dict[str, str]
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        child = Child(name, argv, self.log_dir / f"{name}.log")
        env = {**self.env, **(extra_env or {})}
        with child.log.open("ab") as out:
            child.process = subprocess.Popen(
                argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.children.append(child)
        return child

    def dead(self) -> list[Child]:
        return [c for c in self.children if c.process is None or c.process.poll() is not None]

    def wait_http_ok(self, urls: dict[str, str], timeout_s: float = 60.0) -> None:
        """Block until every URL answers 200; fail fast if a child died meanwhile."""
        deadline = time.monotonic() + timeout_s
        waiting = dict(urls)
        with httpx.Client(timeout=2.0) as client:
            while waiting:
                if dead := self.dead():
                    raise RuntimeError(_death_report(dead))
                for name, url in list(waiting.items()):
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get(url).status_code == 200:
                            del waiting[name]
                if waiting and time.monotonic() > deadline:
                    raise RuntimeError(f"not ready after {timeout_s:.0f}s: {', '.join(waiting)}")
                if waiting:
                    time.sleep(0.2)

    def stop_all(self, grace_s: float = 10.0) -> None:
        running = [c for c in reversed(self.children) if c.process and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait(timeout=5)


def _death_report(dead: list[Child]) -> str:
    lines = []
    for child in dead:
        code = child.process.returncode if child.process else None
        tail = ""
        with contextlib.suppress(OSError):
            tail = child.log.read_text(errors="replace")[-2000:]
        lines.append(f"{child.name} exited with {code}; last log lines:\n{tail}")
    return "\n".join(lines)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
