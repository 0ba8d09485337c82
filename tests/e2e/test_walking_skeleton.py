"""The walking skeleton through the real gateway, with every process of `aurora run`.

Register and log in at identity, post a manual workout to ingest, and watch it
come back from dedup's timeline: outbox -> relay -> Redis stream -> consumer ->
canonical workout, all through the gateway. Then Ctrl-C (SIGINT) must stop the
whole suite cleanly.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from aurora_cli.gateway import nginx_binary

pytestmark = pytest.mark.e2e


def _consecutive_free_ports(n: int) -> int:
    for _ in range(200):
        base = random.randint(20_000, 40_000)
        socks = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


@dataclass
class Suite:
    base_url: str
    process: subprocess.Popen[str]
    state_dir: Path
    output: list[str]


def _gateways() -> list[str]:
    return ["nginx", "python"]


@pytest.fixture(scope="module", params=_gateways())
def suite(
    request: pytest.FixtureRequest,
    database_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Suite]:
    """One running suite per gateway kind, shared by this module's tests in order."""
    gateway = request.param
    tmp_path = tmp_path_factory.mktemp(f"suite-{gateway}")
    if gateway == "nginx" and nginx_binary() is None:
        if os.environ.get("AURORA_REQUIRE_NGINX") == "1":
            pytest.fail("AURORA_REQUIRE_NGINX=1 but no nginx binary is installed")
        pytest.skip("nginx is not installed here (CI installs it and sets AURORA_REQUIRE_NGINX=1)")
    import redis as redis_sync

    redis_sync.Redis.from_url(redis_url).flushdb()
    gateway_port = _consecutive_free_ports(1)
    base_port = _consecutive_free_ports(4)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AURORA_BUS_RELAY_POLL_INTERVAL_S": "0.2",
        "AURORA_BUS_CONSUMER_BLOCK_MS": "200",
    }
    argv = [
        sys.executable,
        "-m",
        "aurora_cli.main",
        "run",
        "--port",
        str(gateway_port),
        "--base-port",
        str(base_port),
        "--state-dir",
        str(tmp_path / "state"),
        "--nginx" if gateway == "nginx" else "--python-gateway",
    ]
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output: list[str] = []
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if "Press Ctrl-C to stop." in line:
            break
    if not any("Press Ctrl-C to stop." in line for line in output):
        process.kill()
        logs = "".join(
            f"\n--- {p.name}\n{p.read_text()[-1500:]}"
            for p in sorted((tmp_path / "state" / "logs").glob("*.log"))
        )
        pytest.fail("suite did not start:\n" + "".join(output) + logs)
    suite = Suite(f"http://127.0.0.1:{gateway_port}", process, tmp_path / "state", output)
    try:
        yield suite
    finally:
        _stop_tree(process)


def _stop_tree(process: subprocess.Popen[str]) -> None:
    """Ctrl-C first (the supervisor stops its children); anything left is killed."""
    if process.poll() is not None:
        return
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    _gone, alive = psutil.wait_procs(children, timeout=10)
    for leftover in alive:
        with contextlib.suppress(psutil.Error):
            leftover.kill()


def test_register_login_post_and_see_it_on_the_timeline(suite: Suite) -> None:
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse battery staple"
    request_id = f"e2e-{uuid.uuid4().hex}"
    with httpx.Client(base_url=suite.base_url, timeout=10) as http:
        assert (
            http.post("/auth/register", json={"email": email, "password": password}).status_code
            == 202
        )
        login = http.post("/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

        posted = http.post(
            "/manual/workouts",
            headers={**auth, "X-Request-ID": request_id},
            json={
                "sport": "ride",
                "start": "2026-11-20T07:00:00+01:00",
                "end": "2026-11-20T09:00:00+01:00",
                "client_ref": "e2e-ride-1",
                "metrics": {"avg_hr": 167, "avg_power_w": 215},
            },
        )
        assert posted.status_code == 202, posted.text
        assert posted.headers["x-request-id"] == request_id
        record_id = posted.json()["record_id"]

        deadline = time.monotonic() + 30
        items: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            timeline = http.get("/timeline", headers=auth)
            assert timeline.status_code == 200, timeline.text
            items = timeline.json()["items"]
            if items:
                break
            time.sleep(0.2)
        assert len(items) == 1, f"workout never reached the timeline: {items}"
        item = items[0]
        assert item["sport"] == "ride"
        assert item["primary"]["record_id"] == record_id  # type: ignore[index]
        assert item["duration_s"] == 7200

        # No token, no data; an unknown prefix is a problem document from the gateway.
        assert http.get("/timeline").status_code == 401
        missing = http.get("/no-such-prefix/x")
        assert missing.status_code == 404

    # A second shell can reach the same servers for operator commands.
    env_file = (suite.state_dir / "env").read_text()
    assert "export DATABASE_URL=" in env_file and "export REDIS_URL=" in env_file

    # The request id followed the event into dedup's worker log.
    worker_log = (suite.state_dir / "logs" / "dedup-worker.log").read_text()
    assert request_id in worker_log or _any_log_contains(suite.state_dir, request_id, "dedup")


def _any_log_contains(state_dir: Path, needle: str, service: str) -> bool:
    return any(
        needle in path.read_text(errors="replace")
        for path in (state_dir / "logs").glob(f"{service}-*.log")
    )


def test_ctrl_c_stops_every_process(suite: Suite) -> None:
    parent = psutil.Process(suite.process.pid)
    children = parent.children(recursive=True)
    assert len(children) >= 14  # 4 APIs, 4 workers, 4 relays, 2 tasks, the gateway
    suite.process.send_signal(signal.SIGINT)
    assert suite.process.wait(timeout=30) == 0
    _gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, [p.cmdline() for p in alive]
