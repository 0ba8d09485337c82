"""The gateway routes DESIGN.md's prefixes, bounds bodies and carries request ids,
whether nginx or the Python fallback serves it, and the committed config is the
rendering of the one route table."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from aurora_cli.fallback_gateway import FallbackGateway
from aurora_cli.gateway import (
    COMPOSE_UPSTREAMS,
    ROUTES,
    SERVICES,
    build_fallback_gateway,
    match_route,
    nginx_binary,
    nginx_command,
    normalize_path,
    render_compose_nginx_config,
    render_nginx_config,
)
from aurora_cli.services import load_spec

REPO = Path(__file__).resolve().parents[2]
COMMITTED_CONF = REPO / "deploy" / "nginx" / "nginx.conf"
COMPOSE_FILE = REPO / "docker-compose.yml"
DESIGN_CANDIDATES = (REPO.parent / "shared" / "DESIGN.md", REPO / "DESIGN.md")
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
# What DESIGN.md §1 lists, plus the docs/openapi routes each service exposes.
DESIGN_PREFIXES = {
    "identity": ["/auth", "/users", "/grants", "/audit", "/.well-known/"],
    "ingest": ["/connections", "/webhooks", "/uploads", "/records", "/manual"],
    "dedup": ["/timeline", "/priorities"],
    "analytics": ["/analytics"],
}
SMALL_LIMIT = "64k"
UPLOAD_LIMIT = "4m"
LIMITS = {"default": SMALL_LIMIT, "/uploads": UPLOAD_LIMIT}


# ---------------------------------------------------------------- static checks


def test_committed_nginx_conf_is_the_compose_rendering() -> None:
    assert COMMITTED_CONF.read_text() == render_compose_nginx_config(), (
        "deploy/nginx/nginx.conf drifted from ROUTES; regenerate it with "
        "`python -m aurora_cli.gateway > deploy/nginx/nginx.conf`"
    )


def test_every_design_prefix_is_routed_to_its_service() -> None:
    for service, prefixes in DESIGN_PREFIXES.items():
        for prefix in [*prefixes, f"/docs/{service}", f"/openapi/{service}.json"]:
            assert ROUTES.get(prefix) == service, prefix
            sample = prefix + "x" if prefix.endswith("/") else prefix
            assert match_route(sample) == service, sample
            conf = render_compose_nginx_config()
            assert re.search(rf"location (= )?{re.escape(prefix)} \{{", conf), prefix
    assert set(ROUTES.values()) == set(SERVICES)


def test_design_md_routes_are_all_in_routes() -> None:
    design = next((p for p in DESIGN_CANDIDATES if p.exists()), None)
    if design is None:
        pytest.skip("DESIGN.md not beside the repository")
    section = design.read_text().split("## 2.")[0]
    for row in section.splitlines():
        cells = [c.strip() for c in row.split("|")]
        if len(cells) < 4 or cells[1] not in SERVICES:
            continue
        for route in re.findall(r"`(/[^`]*)`", cells[3]):
            path = route.replace("*", "x")
            assert match_route(path) == cells[1], route


def test_unrouted_paths() -> None:
    for path in ["/", "/metrics", "/authx", "/timelines", "/docs", "/openapi.json", "/docs/x"]:
        assert match_route(path) is None, path
    assert match_route("/timeline") == "dedup"
    assert match_route("/openapi/dedup.json/x") is None
    assert normalize_path("/auth/../metrics") == "/metrics"
    assert normalize_path("//auth/./x//y/") == "/auth/x/y/"
    assert normalize_path("/auth/../..") is None


def test_render_rejects_unsafe_input(tmp_path: Path) -> None:
    upstreams = dict(COMPOSE_UPSTREAMS)
    with pytest.raises(ValueError, match="no upstream"):
        render_nginx_config({"identity": "a:1"}, 8080, tmp_path)
    with pytest.raises(ValueError, match="host:port"):
        render_nginx_config({**upstreams, "dedup": "x:1; evil"}, 8080, tmp_path)
    with pytest.raises(ValueError, match="nginx size"):
        render_nginx_config(upstreams, 8080, tmp_path, {"/uploads": "lots"})
    with pytest.raises(ValueError, match="not a routed prefix"):
        render_nginx_config(upstreams, 8080, tmp_path, {"/nope/": "1m"})
    with pytest.raises(ValueError, match="unusable"):
        render_nginx_config(upstreams, 8080, tmp_path / "a b")
    unlimited = render_nginx_config(upstreams, 8080, tmp_path, {"/uploads": "0"})
    assert "client_max_body_size 0;" in unlimited


def test_compose_file_matches_the_gateway() -> None:
    yaml = pytest.importorskip("yaml")
    compose: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    services: dict[str, Any] = compose["services"]
    for upstream in COMPOSE_UPSTREAMS.values():
        host, port = upstream.split(":")
        assert services[host]["command"][:3] == ["aurora", "serve", host]
        assert port in services[host]["command"]
    # Every service gets an api and a relay, and a worker exactly when it consumes streams.
    expected = {"postgres", "redis", "migrate", "gateway"}
    for service in SERVICES:
        expected |= {service, f"{service}-relay"}
        if load_spec(service).has_consumers():
            expected.add(f"{service}-worker")
        if load_spec(service).tasks is not None:
            expected.add(f"{service}-tasks")
    assert set(services) == expected
    gateway = services["gateway"]
    assert any(v.startswith("./deploy/nginx/nginx.conf:") for v in gateway["volumes"])
    assert "8080:8080" in gateway["ports"]
    assert "--appendonly" in services["redis"]["command"]


# ---------------------------------------------------------------- live helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EchoHandler(BaseHTTPRequestHandler):
    """Answers with what arrived, so a test sees what the gateway forwarded."""

    protocol_version = "HTTP/1.1"
    service = "?"

    def _read_body(self) -> int:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            total = 0
            while True:
                line = self.rfile.readline()
                if not line:  # the gateway cut a too-large body short
                    return total
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return total
                total += len(self.rfile.read(size))
                self.rfile.readline()
        remaining = int(self.headers.get("Content-Length") or 0)
        total = 0
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            total += len(chunk)
            remaining -= len(chunk)
        return total

    def _echo(self) -> None:
        received = self._read_body()
        body = json.dumps(
            {
                "service": self.service,
                "method": self.command,
                "path": self.path,
                "request_id": self.headers.get("X-Request-ID"),
                "forwarded_for": self.headers.get("X-Forwarded-For"),
                "forwarded_proto": self.headers.get("X-Forwarded-Proto"),
                "body_bytes": received,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", "set-by-upstream")  # the gateway's must win
        self.end_headers()
        # The gateway may have given up on this request (a body over its limit).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _echo

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def echo_upstreams() -> Iterator[dict[str, str]]:
    servers = []
    for service in SERVICES:
        handler = type(f"Echo_{service}", (EchoHandler,), {"service": service})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        pairs = zip(SERVICES, servers, strict=True)
        yield {service: f"127.0.0.1:{srv.server_address[1]}" for service, srv in pairs}
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def wait_healthy(base: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"gateway exited: {proc.stderr.read() if proc.stderr else ''!r}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"gateway at {base} never became healthy")


@pytest.fixture(scope="module")
def nginx_path() -> str:
    found = nginx_binary()
    if found is None:
        if os.environ.get("AURORA_REQUIRE_NGINX") == "1":
            pytest.fail("AURORA_REQUIRE_NGINX=1 but no nginx binary on PATH or in /usr/sbin")
        pytest.skip("no nginx binary (apt-get install nginx-light); the fallback is tested")
    return found


@contextmanager
def running_nginx(binary: str, upstreams: dict[str, str]) -> Iterator[tuple[str, Path]]:
    # mkdtemp, not tmp_path: pytest's base dir is 0700, and nginx run as root
    # hands requests to workers running as an unprivileged user.
    prefix = Path(tempfile.mkdtemp(prefix="aurora-nginx-"))
    prefix.chmod(0o755)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(render_nginx_config(upstreams, port, prefix, LIMITS))
    check = subprocess.run(
        nginx_command(binary, prefix, conf, test=True), capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    assert "test is successful" in check.stderr
    proc = subprocess.Popen(nginx_command(binary, prefix, conf), stderr=subprocess.PIPE)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield f"http://127.0.0.1:{port}", prefix
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(prefix, ignore_errors=True)


@contextmanager
def running_fallback(upstreams: dict[str, str]) -> Iterator[str]:
    port = free_port()
    app = build_fallback_gateway(upstreams, LIMITS)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, str]]:
    with echo_upstreams() as addresses:
        yield addresses


@pytest.fixture(scope="module")
def dead_upstreams() -> dict[str, str]:
    return {service: f"127.0.0.1:{free_port()}" for service in SERVICES}


# ---------------------------------------------------------------- live checks


def check_gateway(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
        for prefix, service in ROUTES.items():
            path = prefix + "x?q=1" if prefix.endswith("/") else prefix + "?q=1"
            response = client.get(path)
            assert response.status_code == 200, (path, response.text)
            echoed = response.json()
            assert (echoed["service"], echoed["path"]) == (service, path)
            assert echoed["forwarded_proto"] == "http"
            assert "127.0.0.1" in echoed["forwarded_for"]

        # A request id is generated when absent, passed through when present, and
        # the client sees exactly the one the service saw.
        response = client.get("/auth/me")
        generated = response.json()["request_id"]
        assert GENERATED_ID.match(generated)
        assert response.headers.get_list("x-request-id") == [generated]
        response = client.get("/timeline", headers={"X-Request-ID": "client-id.42"})
        assert response.json()["request_id"] == "client-id.42"
        assert response.headers.get_list("x-request-id") == ["client-id.42"]
        response = client.get("/timeline", headers={"X-Request-ID": "no spaces {allowed}"})
        assert GENERATED_ID.match(response.json()["request_id"])

        for path in ["/metrics", "/nope", "/authx", "/timelines", "/openapi.json"]:
            response = client.get(path, headers={"X-Request-ID": "rid-404"})
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("application/problem+json")
            problem = response.json()
            assert (problem["status"], problem["request_id"]) == (404, "rid-404")
            assert response.headers["x-request-id"] == "rid-404"

        small = client.post("/auth/login", content=b"x" * 100_000)
        assert small.status_code == 413
        assert small.headers["content-type"].startswith("application/problem+json")
        assert GENERATED_ID.match(small.headers["x-request-id"])
        undeclared = client.post("/auth/login", content=iter([b"x" * 50_000] * 2))
        assert undeclared.status_code == 413

        # Uploads get the large limit, with a declared length or streamed chunked.
        upload = client.post("/uploads/fit", content=b"x" * 3_000_000)
        assert upload.status_code == 200, upload.text
        assert upload.json()["body_bytes"] == 3_000_000

        def chunks() -> Iterator[bytes]:
            for _ in range(30):
                yield b"y" * 100_000

        streamed = client.post("/uploads/fit", content=chunks())
        assert streamed.status_code == 200
        assert streamed.json()["body_bytes"] == 3_000_000
        too_big = client.post("/uploads/fit", content=b"x" * 5_000_000)
        assert too_big.status_code == 413

    # Dot segments route where they really point: never to a hidden path. (httpx
    # would resolve them before sending, hence http.client.)
    host, port = base.removeprefix("http://").split(":")
    for path, status in [("/auth/../metrics", 404), ("/auth/../..", 400)]:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", path)
        response_ = conn.getresponse()
        assert response_.status == status, path
        assert response_.getheader("content-type", "").startswith("application/problem+json")
        conn.close()


def check_upstream_down(base: str) -> None:
    response = httpx.get(f"{base}/analytics/x", headers={"X-Request-ID": "rid-502"}, timeout=30)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["request_id"] == "rid-502"
    assert response.headers["x-request-id"] == "rid-502"


def test_nginx_gateway(nginx_path: str, upstreams: dict[str, str]) -> None:
    with running_nginx(nginx_path, upstreams) as (base, prefix):
        check_gateway(base)
        httpx.get(f"{base}/records/1?code=secret", headers={"X-Request-ID": "logged-id"})
        # nginx writes the line after the response, so the client may be first.
        deadline = time.monotonic() + 5
        entries: list[dict[str, Any]] = []
        while not entries and time.monotonic() < deadline:
            lines = (prefix / "access.log").read_text().splitlines()
            entries = [e for e in map(json.loads, lines) if e["request_id"] == "logged-id"]
            time.sleep(0.02)
        assert [(e["path"], e["status"]) for e in entries] == [("/records/1", 200)]
        assert "secret" not in (prefix / "access.log").read_text()


def test_nginx_gateway_upstream_down(nginx_path: str, dead_upstreams: dict[str, str]) -> None:
    with running_nginx(nginx_path, dead_upstreams) as (base, _):
        check_upstream_down(base)


def test_fallback_gateway(upstreams: dict[str, str]) -> None:
    with running_fallback(upstreams) as base:
        check_gateway(base)


def test_fallback_gateway_upstream_down(dead_upstreams: dict[str, str]) -> None:
    with running_fallback(dead_upstreams) as base:
        check_upstream_down(base)


def test_fallback_refuses_incomplete_upstreams() -> None:
    with pytest.raises(ValueError, match="no upstream"):
        FallbackGateway({"identity": "127.0.0.1:1"})
