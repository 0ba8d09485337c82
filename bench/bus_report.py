"""What the bus benchmark writes: the machine it ran on, the command, and the numbers.

Without the machine and server settings next to them (fsync, persistence) the numbers
could not be compared with a later run, so they are recorded in the same files.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil
from redis.asyncio import Redis

from aurora_shared.config import asyncpg_url

if TYPE_CHECKING:
    from bench.bus_infra import Servers


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def describe_servers(srv: Servers) -> dict[str, str]:
    pg = "embedded (aurora_shared.embedded, temp dir)" if srv.embedded_postgres else "external"
    rd = "embedded (aurora_shared.embedded, temp dir)" if srv.embedded_redis else "external"
    return {
        "postgres": f"{pg}: {_masked(srv.database_url)}",
        "redis": f"{rd}: {_masked(srv.redis_url)}",
    }


def command() -> str:
    env = [
        f"{k}={_masked(os.environ[k])}" for k in ("DATABASE_URL", "REDIS_URL") if k in os.environ
    ]
    return shlex.join([*env, *sys.orig_argv])


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


async def machine(database_url: str, redis: Redis) -> dict[str, Any]:
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        pg = {
            name: await conn.fetchval(f"SHOW {name}")
            for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        }
    finally:
        await conn.close()
    info = await redis.info("server")
    rd: dict[str, Any] = {"redis_version": info.get("redis_version")}
    try:
        for name in ("appendonly", "appendfsync", "save"):
            rd[name] = (await redis.config_get(name)).get(name)
    except Exception as exc:  # CONFIG may be disabled on a managed Redis
        rd["config"] = f"unavailable: {type(exc).__name__}"
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": {d: _version(d) for d in ("redis", "hiredis", "asyncpg", "SQLAlchemy")},
        "postgres": pg,
        "redis": rd,
    }


def _row(name: str, phase: dict[str, Any]) -> str:
    lat = phase["latency_ms"]
    return (
        f"| {name} | {phase['events']:,} | {phase['offered_per_s']:,.0f} | "
        f"{phase['events_per_s']:,.0f} | {phase['commits_per_s_min']:,} | "
        f"{lat['p50']} | {lat['p95']} | {lat['p99']} | {lat['max']} |"
    )


_ROLES = ("producer", "relay", "consumer", "postgres", "redis", "other_processes", "machine")


def _cpu_row(name: str, phase: dict[str, Any]) -> str:
    per_event, cpu = phase["cpu_us_per_event"], phase["cpu_s"]
    cells = " | ".join(f"{per_event.get(role, 0):,}" for role in _ROLES)
    return f"| {name} | {cells} | {cpu['machine_utilisation']:.0%} | {cpu['steal_share']:.0%} |"


def render_markdown(r: dict[str, Any]) -> str:
    m, p, t, c = r["machine"], r["params"], r["targets"], r["checks"]
    ph, bus = r["phases"], r["bus_settings"]
    verdict = "met" if t["met"] else "NOT met"
    names = {
        "batch": f"flat out, {p['batch']}/txn",
        "single": f"flat out, 1/txn, {p['single_producers']} producers",
        "paced": f"paced {p['rate']:.0f}/s, 1/txn",
    }
    lines = [
        "# Event bus benchmark",
        "",
        f"Run {r['started_at']}, {r['wall_seconds']} s wall. Regenerate with `make bench-bus`.",
        "",
        f"Command: `{r['command']}`",
        "",
        "## Result",
        "",
        f"- Full reliable path (outbox -> relay -> stream -> consumer, inbox + effect row in one "
        f"commit): **{r['events_per_s']:,.0f} events/s** sustained over "
        f"{ph['batch']['events']:,} events written {p['batch']} per producer transaction; "
        f"slowest whole second {ph['batch']['commits_per_s_min']:,} commits.",
        f"- Latency at {p['rate']:.0f} events/s offered for {p['duration_s']:.0f} s, one event "
        f"per transaction: **p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, p99 {r['p99_ms']} ms**"
        f" (max {ph['paced']['latency_ms']['max']} ms).",
        f"- Ceilings in the same run: raw redis-py XADD+XREADGROUP+XACK "
        f"{r['raw_redis_per_s']:,.0f}/s (full path = {r['ratio_to_raw_redis']:.1%} of it); raw "
        f"asyncpg INSERT {r['raw_insert_per_s']:,.0f} rows/s, {p['batch']} per transaction "
        f"(full path = {r['ratio_to_raw_insert']:.1%} of it).",
        f"- Targets (>= {t['events_per_s']:,.0f} events/s, p99 < {t['p99_ms']:.0f} ms at "
        f"{p['rate']:.0f}/s): **{verdict}**.",
        f"- Exactly once: {c['produced']:,} events produced, {c['effects']:,} effect rows "
        f"({c['distinct_events']:,} distinct), {c['inbox']:,} inbox rows, "
        f"{c['unpublished']} unpublished, {c['pending']} pending, {c['dead_lettered']} "
        f"dead-lettered: **{'ok' if c['ok'] else 'FAILED'}**.",
        "",
        "## Phases",
        "",
        "Latency = the consumer's commit (effects + inbox) minus the event's creation time; in "
        "the paced phase the creation time is the event's scheduled time, so a producer that "
        "falls behind shows up as latency. Throughput = events / (first outbox insert -> last "
        'consumer commit). "min/s" is the slowest whole second of commits. In the flat-out '
        "phases the producer outruns the path, so their latencies are the backlog's queueing "
        "time.",
        "",
        "| phase | events | offered/s | through/s | min/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|---|",
        *(_row(names[k], ph[k]) for k in ("batch", "single", "paced")),
        "",
        "Where the CPU went, in microseconds per event (psutil, per process; `postgres` is the "
        "backends of the benchmark database, `other_processes` everything else on the machine; "
        "util = busy share of all cores, steal = share the hypervisor took):",
        "",
        "| phase | " + " | ".join(_ROLES) + " | util | steal |",
        "|---" * (len(_ROLES) + 3) + "|",
        *(_cpu_row(names[k], ph[k]) for k in ("batch", "single", "paced")),
        "",
        "## Setup",
        "",
        f"- Separate OS processes: producer; relay (the real `OutboxRelay.run` of "
        f"`relay_components`, woken by LISTEN/NOTIFY, with the reconciler and trimmer); "
        f"{p['consumers']} consumer process(es) in one group (the real `StreamConsumer`; the "
        f"handler inserts one effect row per event in the inbox transaction). Relay and "
        f"consumers open their runtime as `aurora <svc> relay|worker` do and log JSON at "
        f"{p['log_level']} (formatted, written to /dev/null).",
        "- Flat-out producers write with `enqueue` in an SQLAlchemy session, as a service does. "
        "The paced producer writes the same outbox row with plain asyncpg, one event per "
        f"transaction from {p['paced_producers']} connections: the session way costs "
        f"{ph['single']['cpu_us_per_event']['producer']:,} us of CPU per single-event "
        "transaction here (1/txn row), which at 500/s would take the cores the path needs.",
        f"- Bus settings: relay batch {bus['relay_batch_size']}, relay linger "
        f"{bus['relay_linger_ms']} ms, consumer batch {bus['consumer_batch_size']}, consumer "
        f"block {bus['consumer_block_ms']} ms.",
        "",
        "## Machine and servers",
        "",
        f"- CPU: {m['cpu_model']}, {m['cores']} cores; RAM {m['ram_gib']} GiB; {m['os']}; "
        f"{m['busy_before_run']:.0%} busy in the second before the run",
        f"- Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
        f"- PostgreSQL {m['postgres']['server_version']}, {r['servers']['postgres']}; "
        f"fsync={m['postgres']['fsync']}, synchronous_commit={m['postgres']['synchronous_commit']}"
        f", shared_buffers={m['postgres']['shared_buffers']}",
        f"- Redis {m['redis'].get('redis_version')}, {r['servers']['redis']}; "
        f"appendonly={m['redis'].get('appendonly')}, appendfsync={m['redis'].get('appendfsync')}",
        "",
        "## Parameters",
        "",
        "```json",
        json.dumps({"params": p, "bus_settings": bus}, indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_results(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    return write_report(out_dir, "bus", result, render_markdown(result))


def write_report(
    out_dir: Path, name: str, result: dict[str, Any], markdown: str
) -> tuple[Path, Path]:
    """`name`.json and `name`.md, each replaced whole (never half-written)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = out_dir / f"{name}.json", out_dir / f"{name}.md"
    contents = json.dumps(result, indent=2) + "\n", markdown
    for path, content in zip(paths, contents, strict=True):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(content)
        tmp.replace(path)
    return paths
