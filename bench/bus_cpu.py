"""Where the CPU of one benchmark phase went, per role, from psutil samples.

On a 2-core machine the path is CPU-bound, so "events/s" alone does not say whether the
Python processes, PostgreSQL, Redis or something else on the machine (another test run)
took the cores. Processes are sampled every 0.25 s (a full psutil scan at 10 Hz would
itself take 4 % of the machine); a process that exits between two samples (a
producer's backend) loses at most its last 0.25 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping

import psutil


def machine_steal() -> float:
    """CPU seconds the hypervisor gave to other guests: a starved VM runs slow, not busy."""
    return float(getattr(psutil.cpu_times(), "steal", 0.0))


def machine_busy() -> float:
    """CPU seconds all cores spent not idle since boot."""
    t = psutil.cpu_times()
    # steal is the hypervisor's, guest time is already counted in user.
    idle = t.idle + sum(getattr(t, f, 0.0) for f in ("iowait", "steal", "guest", "guest_nice"))
    return sum(t) - idle


class CpuMeter:
    def __init__(self, roles: Mapping[int, str], database: str, redis_port: int | None) -> None:
        self.roles = dict(roles)  # pid -> role, for our own children
        self.database = database
        self.redis_port = redis_port
        self.start_wall = time.time()
        self.start_busy = machine_busy()
        self.start_steal = machine_steal()
        self.procs: dict[int, tuple[psutil.Process, str]] = {}
        self.ignored: set[int] = set()
        self.first: dict[int, tuple[str, float]] = {}
        self.last: dict[int, float] = {}

    def _classify(self, pid: int) -> tuple[psutil.Process, str] | None:
        """The role of a process, or None; PostgreSQL backends get their title after
        start-up, so a young unmatched process is asked again on the next sample."""
        try:
            proc = psutil.Process(pid)
            if pid in self.roles:
                return proc, self.roles[pid]
            name, title = proc.name(), " ".join(proc.cmdline())
            young = proc.create_time() > time.time() - 2
        except psutil.Error:
            return None
        if name == "postgres" and f" {self.database} " in title:
            return proc, "postgres"  # the backends serving the benchmark database
        if name == "redis-server" and f":{self.redis_port}" in title:
            return proc, "redis"
        if not young:
            self.ignored.add(pid)
        return None

    def sample(self) -> None:
        for pid in psutil.pids():
            if pid in self.ignored:
                continue
            if pid not in self.procs:
                found = self._classify(pid)
                if found is None:
                    continue
                self.procs[pid] = found
            proc, role = self.procs[pid]
            try:
                times = proc.cpu_times()
                born_during = proc.create_time() >= self.start_wall - 0.05
            except psutil.Error:
                continue
            cpu = times.user + times.system
            if pid not in self.first:
                self.first[pid] = (role, 0.0 if born_during else cpu)
            self.last[pid] = cpu

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)

    def usage(self, wall_s: float) -> dict[str, float]:
        self.sample()
        used: dict[str, float] = {}
        for pid, (role, first) in self.first.items():
            used[role] = used.get(role, 0.0) + self.last[pid] - first
        machine = machine_busy() - self.start_busy
        result = {role: round(seconds, 2) for role, seconds in sorted(used.items())}
        result["other_processes"] = round(machine - sum(used.values()), 2)
        result["machine"] = round(machine, 2)
        capacity = wall_s * (os.cpu_count() or 1)
        result["machine_utilisation"] = round(machine / capacity, 3)
        result["steal_share"] = round((machine_steal() - self.start_steal) / capacity, 3)
        return result
