"""`aurora run`: the whole suite on one machine, behind one gateway port.

With DATABASE_URL / REDIS_URL unset it starts embedded PostgreSQL and Redis
(from PyPI packages, data under .aurora/), migrates every schema, then starts
each service's API, worker and relay as separate processes and a gateway in
front of them: nginx when the machine has it, else the pure-Python gateway.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from aurora_cli.gateway import nginx_binary, nginx_command, render_nginx_config
from aurora_cli.services import SERVICES, load_spec
from aurora_cli.supervisor import Supervisor, python_module


@dataclass(frozen=True)
class RunOptions:
    state_dir: Path
    gateway_port: int
    base_port: int
    use_nginx: bool | None  # None: use nginx when installed


class _StopRequestedError(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError


def run(options: RunOptions) -> int:
    options.state_dir.mkdir(parents=True, exist_ok=True)
    servers: list[object] = []
    # Installed explicitly: a shell starting us in the background ignores SIGINT,
    # and an inherited "ignore" would make Ctrl-C / kill -INT do nothing.
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    supervisor: Supervisor | None = None
    try:
        _require_free_ports(options)
        database_url, redis_url = _servers(options.state_dir, servers)
        _write_env_file(options.state_dir, database_url, redis_url)
        for name in SERVICES:
            print(f"migrating {name} ...", flush=True)
            load_spec(name).migrate(database_url)
        ports = {name: options.base_port + i for i, name in enumerate(SERVICES)}
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "AURORA_JWKS_URL": f"http://127.0.0.1:{ports['identity']}/.well-known/jwks.json",
            "PYTHONUNBUFFERED": "1",
            **_dev_secrets(options.state_dir),
            # The ingest API writes uploads here and its tasks process reads them.
            "AURORA_INGEST_UPLOAD_DIR": str((options.state_dir / "uploads").resolve()),
        }
        supervisor = Supervisor(options.state_dir / "logs", env)
        for name in SERVICES:
            spec = load_spec(name)
            module = f"aurora_{name}"
            supervisor.spawn(
                f"{name}-api", python_module(module, "serve", "--port", str(ports[name]))
            )
            supervisor.spawn(f"{name}-relay", python_module(module, "relay"))
            if spec.has_consumers():
                supervisor.spawn(f"{name}-worker", python_module(module, "worker"))
            if spec.tasks is not None:
                supervisor.spawn(f"{name}-tasks", python_module(module, "tasks"))
        _start_gateway(supervisor, options, ports)
        supervisor.wait_http_ok(
            {
                **{n: f"http://127.0.0.1:{p}/readyz" for n, p in ports.items()},
                "gateway": f"http://127.0.0.1:{options.gateway_port}/healthz",
            }
        )
        _print_urls(options.gateway_port, supervisor)
        while not (dead := supervisor.dead()):
            time.sleep(0.5)
        print(f"stopping: {', '.join(c.name for c in dead)} exited", file=sys.stderr, flush=True)
        return 1
    except (KeyboardInterrupt, _StopRequestedError):
        print("\nstopping ...", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"aurora run failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if supervisor is not None:
            supervisor.stop_all()
        for server in reversed(servers):
            with contextlib.suppress(Exception):
                server.stop()  # type: ignore[attr-defined]
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("stopped.", flush=True)


def _servers(state_dir: Path, started: list[object]) -> tuple[str, str]:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url:
        from aurora_shared.embedded import EmbeddedPostgres

        pg = EmbeddedPostgres(state_dir / "pg")
        started.append(pg)
        admin_url = pg.start()
        database_url = _ensure_database(admin_url, "aurora")
        print(f"embedded PostgreSQL: {admin_url}", flush=True)
    if not redis_url:
        from aurora_shared.embedded import EmbeddedRedis

        redis_server = EmbeddedRedis(state_dir / "redis", appendonly=True)
        started.append(redis_server)
        redis_url = redis_server.start()
        print(f"embedded Redis: {redis_url}", flush=True)
    return database_url, redis_url


def _require_free_ports(options: RunOptions) -> None:
    """Fail before starting anything: a second suite would otherwise answer our
    readiness checks on a port it holds."""
    wanted = {"gateway": options.gateway_port}
    wanted |= {name: options.base_port + i for i, name in enumerate(SERVICES)}
    for name, port in wanted.items():
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise RuntimeError(
                    f"port {port} ({name}) is in use; is another `aurora run` up? "
                    "Choose others with --port / --base-port."
                ) from None


def _dev_secrets(state_dir: Path) -> dict[str, str]:
    """Ingest's token key and OAuth state secret for a development suite.

    Made once and kept in the state folder (mode 600), so provider tokens stored
    by one `aurora run` still decrypt in the next; values already in the
    environment win, which is how a developer plugs in real provider apps.
    """
    import json
    import secrets

    from cryptography.fernet import Fernet

    path = state_dir / "dev-secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
    else:
        stored = {
            "AURORA_INGEST_TOKEN_KEYS": Fernet.generate_key().decode(),
            "AURORA_INGEST_STATE_SECRET": secrets.token_urlsafe(32),
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(stored))
    return {name: os.environ.get(name) or value for name, value in stored.items()}


def _write_env_file(state_dir: Path, database_url: str, redis_url: str) -> None:
    """Operator commands (`aurora users`, `aurora dlq`) need the same servers:
    `source .aurora/env` gives a second shell the URLs of the running suite."""
    env_file = state_dir / "env"
    env_file.write_text(f"export DATABASE_URL='{database_url}'\nexport REDIS_URL='{redis_url}'\n")
    env_file.chmod(0o600)


def _ensure_database(admin_url: str, name: str) -> str:
    import asyncio

    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def _start_gateway(supervisor: Supervisor, options: RunOptions, ports: dict[str, int]) -> None:
    upstreams = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    binary = nginx_binary() if options.use_nginx is not False else None
    if options.use_nginx and binary is None:
        raise RuntimeError("--nginx was given but no nginx binary is installed")
    if binary is not None:
        prefix = _nginx_prefix(options.state_dir)
        conf = prefix / "nginx.conf"
        conf.write_text(render_nginx_config(upstreams, options.gateway_port, prefix))
        supervisor.spawn("gateway-nginx", nginx_command(binary, prefix, conf))
        return
    supervisor.spawn(
        "gateway-python",
        [sys.executable, "-m", "aurora_cli.main", "gateway", "--port", str(options.gateway_port)],
        {f"AURORA_UPSTREAM_{n.upper()}": u for n, u in upstreams.items()},
    )


def _nginx_prefix(state_dir: Path) -> Path:
    """nginx run as root drops its workers to an unprivileged user, which must be able
    to reach the body temp directories; a state dir below a 0700 parent would make
    every buffered upload fail, so root gets a world-traversable temp prefix."""
    if os.geteuid() != 0:
        prefix = (state_dir / "nginx").resolve()
        prefix.mkdir(parents=True, exist_ok=True)
        return prefix
    prefix = Path(tempfile.mkdtemp(prefix="aurora-nginx-"))
    prefix.chmod(0o755)
    return prefix


def _print_urls(port: int, supervisor: Supervisor) -> None:
    base = f"http://127.0.0.1:{port}"
    print(f"\nAurora is running ({len(supervisor.children)} processes).", flush=True)
    print(f"  API:  {base}", flush=True)
    for name in SERVICES:
        print(f"  docs: {base}/docs/{name}", flush=True)
    print(f"  logs: {supervisor.log_dir}", flush=True)
    print(f"  env:  source {supervisor.log_dir.parent / 'env'}  (for aurora users/dlq)", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
