"""The gateway in front of the four services: one route table, two ways to serve it.

Production and docker-compose run nginx with a config rendered from `ROUTES`; a
machine without nginx runs the pure-Python fallback (`fallback_gateway`) over the
same table. Keeping the table here, and rendering the committed
`deploy/nginx/nginx.conf` from it, is what stops the two gateways and the
checked-in config from drifting apart.

Regenerate the committed config with `python -m aurora_cli.gateway > deploy/nginx/nginx.conf`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from starlette.types import ASGIApp

SERVICES: Final = ("identity", "ingest", "dedup", "analytics")

# DESIGN.md §1. A prefix ending in "/" routes its subtree; one naming a file (a dot
# in its last segment) routes only itself; any other routes the exact path and its
# subtree (so "/timeline" does not also catch "/timelines").
_PUBLIC_PREFIXES: Final[Mapping[str, tuple[str, ...]]] = {
    "identity": ("/auth", "/users", "/grants", "/audit", "/admin", "/.well-known/"),
    "ingest": ("/connections", "/webhooks", "/uploads", "/records", "/manual"),
    "dedup": ("/timeline", "/priorities"),
    "analytics": ("/analytics",),
}


def _build_routes() -> dict[str, str]:
    routes: dict[str, str] = {}
    for service in SERVICES:
        # Docs are namespaced per service because all four would otherwise claim
        # "/docs"; /metrics is deliberately absent: it is for the scraper, not the world.
        for prefix in (*_PUBLIC_PREFIXES[service], f"/docs/{service}", f"/openapi/{service}.json"):
            routes[prefix] = service
    return routes


ROUTES: Final[Mapping[str, str]] = MappingProxyType(_build_routes())
"""Path prefix -> service. The only place a route to a service is written down."""

# Bodies arrive streaming from clients we do not trust, so every route is bounded;
# only uploads (multi-GB activity archives) get a large bound.
DEFAULT_BODY_LIMIT_KEY: Final = "default"
DEFAULT_BODY_LIMITS: Final[Mapping[str, str]] = MappingProxyType(
    {DEFAULT_BODY_LIMIT_KEY: "1m", "/uploads": "10g"}
)
# Routes whose bodies must reach the service as they arrive instead of being
# spooled to the gateway's disk first (large uploads, signature-checked webhooks).
UNBUFFERED_PREFIXES: Final = frozenset({"/uploads", "/webhooks"})
UPLOAD_TIMEOUT: Final = "300s"

# The request id is attacker-controlled and lands in every log line and event of
# every service, so only a short, plain token is passed through; anything else
# is replaced by a fresh id. The nginx map and the fallback share this pattern.
REQUEST_ID_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,128}$"
REQUEST_ID_RE: Final = re.compile(REQUEST_ID_PATTERN)

# The errors the gateway itself answers, identical from nginx and the fallback:
# status -> (title, detail), served as RFC 9457 problem+json.
GATEWAY_PROBLEMS: Final[Mapping[int, tuple[str, str]]] = MappingProxyType(
    {
        400: ("Bad Request", "malformed request"),
        404: ("Not Found", "no service serves this path"),
        413: ("Content Too Large", "request body too large"),
        502: ("Bad Gateway", "the service is unavailable"),
        504: ("Gateway Timeout", "the service did not answer"),
    }
)
# Status -> the statuses nginx answers with it. The pages are internal URIs, not
# named locations: nginx cannot redirect a request whose URI it rejected (400) to
# a named location.
_ERROR_PAGES: Final[Mapping[int, str]] = MappingProxyType(
    {400: "400", 404: "404", 413: "413", 502: "502 503", 504: "504"}
)
_ERROR_PAGE_DIR: Final = "/_gateway/error/"

COMPOSE_UPSTREAMS: Final[Mapping[str, str]] = MappingProxyType(
    {service: f"{service}:8000" for service in SERVICES}
)
COMPOSE_LISTEN_PORT: Final = 8080
# Exists and is writable in the official nginx image.
COMPOSE_PREFIX_DIR: Final = Path("/var/cache/nginx")

_SIZE_RE: Final = re.compile(r"^(\d+)([kKmMgG]?)$")
_UPSTREAM_RE: Final = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")
_UNSAFE_CONF_CHARS: Final = re.compile(r"[\s\"'\\;{}$#]")
_UNITS: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


_LONGEST_FIRST: Final = tuple(sorted(ROUTES, key=len, reverse=True))


def _nginx_matchers(prefix: str) -> list[str]:
    if prefix.endswith("/"):
        return [prefix]
    if "." in prefix.rsplit("/", 1)[1]:
        return [f"= {prefix}"]
    return [f"= {prefix}", f"{prefix}/"]


def route_prefix(path: str) -> str | None:
    """The ROUTES key for a normalised path, longest first, as nginx picks locations."""
    for prefix in _LONGEST_FIRST:
        for matcher in _nginx_matchers(prefix):
            exact = matcher.startswith("= ")
            if path == matcher[2:] if exact else path.startswith(matcher):
                return prefix
    return None


def match_route(path: str) -> str | None:
    """The service that serves a normalised path, if any."""
    prefix = route_prefix(path)
    return None if prefix is None else ROUTES[prefix]


def normalize_path(path: str) -> str | None:
    """Resolve dot segments and merge slashes like nginx, so `/auth/../metrics` routes
    where it really points; None when the path climbs above the root (nginx: 400)."""
    if not path.startswith("/"):
        return None
    out: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "..":
            if not out:
                return None
            out.pop()
        elif segment not in ("", "."):
            out.append(segment)
            continue
        if last:
            out.append("")
    return "/" + "/".join(out)


def parse_size(size: str) -> int | None:
    """Bytes for an nginx size; None for "0", which nginx reads as "no limit"."""
    found = _SIZE_RE.match(size)
    if found is None:
        raise ValueError(f"not an nginx size: {size!r}")
    value = int(found.group(1)) * _UNITS[found.group(2).lower()]
    return value or None


def resolve_body_limits(body_limits: Mapping[str, str] | None = None) -> dict[str, str]:
    """Defaults overlaid with the caller's limits; keys are route prefixes or "default"."""
    limits = dict(DEFAULT_BODY_LIMITS)
    limits.update(body_limits or {})
    for key, size in limits.items():
        if key != DEFAULT_BODY_LIMIT_KEY and key not in ROUTES:
            raise ValueError(f"body limit for {key!r}, which is not a routed prefix")
        parse_size(size)
    return limits


def check_upstreams(upstreams: Mapping[str, str]) -> None:
    """Fail at render time rather than with an nginx error (or a config injection)."""
    missing = set(SERVICES) - set(upstreams)
    if missing:
        raise ValueError(f"no upstream for {sorted(missing)}")
    for service, address in upstreams.items():
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        if not _UPSTREAM_RE.match(address):
            raise ValueError(f"upstream for {service} must be host:port, got {address!r}")


def _conf_path(path: Path | str) -> str:
    text = str(path)
    if _UNSAFE_CONF_CHARS.search(text):
        raise ValueError(f"path unusable in an nginx config: {text!r}")
    return text


def _problem_return(status: int) -> list[str]:
    title, detail = GATEWAY_PROBLEMS[status]
    # Only nginx variables known to expand to JSON-safe text may appear here.
    body = (
        f'{{"type":"about:blank","title":"{title}","status":{status},'
        f'"detail":"{detail}","request_id":"$req_id"}}'
    )
    return ["default_type application/problem+json;", f"return {status} '{body}';"]


def _error_locations() -> list[str]:
    lines: list[str] = []
    for status in _ERROR_PAGES:
        lines.append(f"        location = {_ERROR_PAGE_DIR}{status} {{")
        lines += [f"            {line}" for line in ["internal;", *_problem_return(status)]]
        lines.append("        }")
    return lines


def _locations(limits: Mapping[str, str]) -> list[str]:
    lines: list[str] = []
    for prefix, service in ROUTES.items():
        body = [f"proxy_pass http://{service};"]
        if prefix in limits:
            body.append(f"client_max_body_size {limits[prefix]};")
        if prefix in UNBUFFERED_PREFIXES:
            body += [
                "proxy_request_buffering off;",
                f"proxy_send_timeout {UPLOAD_TIMEOUT};",
                f"proxy_read_timeout {UPLOAD_TIMEOUT};",
            ]
        for matcher in _nginx_matchers(prefix):
            lines.append(f"        location {matcher} {{")
            lines += [f"            {line}" for line in body]
            lines.append("        }")
        if prefix.endswith("/") and prefix != "/":
            # Without this nginx answers "/auth" with a redirect to "/auth/".
            lines.append(f"        location = {prefix[:-1]} {{ return 404; }}")
    return lines


def render_nginx_config(
    upstreams: Mapping[str, str],
    listen_port: int,
    prefix_dir: Path,
    body_limits: Mapping[str, str] | None = None,
    *,
    access_log: str | None = None,
    error_log: str | None = None,
) -> str:
    """A complete nginx.conf that needs no file outside `prefix_dir`, so an
    unprivileged user (a developer, CI) can run it with `nginx -p DIR -c FILE`.

    `body_limits` maps route prefixes (or "default") to nginx sizes over
    `DEFAULT_BODY_LIMITS`; "0" lifts the limit. Logs default to files in
    `prefix_dir`; a container passes "/dev/stdout" and "stderr" instead.
    """
    check_upstreams(upstreams)
    if not 0 < listen_port < 65536:
        raise ValueError(f"bad port {listen_port}")
    limits = resolve_body_limits(body_limits)
    prefix = _conf_path(prefix_dir)
    access = _conf_path(access_log or f"{prefix}/access.log")
    errors = _conf_path(error_log or f"{prefix}/error.log")

    upstream_blocks: list[str] = []
    for service in SERVICES:
        upstream_blocks += [
            f"    upstream {service} {{",
            f"        server {upstreams[service]};",
            "        keepalive 16;",
            # Below uvicorn's 5 s idle timeout: reusing a connection the service is
            # closing would turn a POST into a 502.
            "        keepalive_timeout 4s;",
            "    }",
        ]

    log_format = (
        '\'{"time":"$time_iso8601","request_id":"$req_id","remote_addr":"$remote_addr",'
        '"method":"$request_method","path":"$uri","status":$status,'
        '"bytes_sent":$body_bytes_sent,"request_length":$request_length,'
        '"request_time":$request_time,"upstream":"$upstream_addr",'
        '"upstream_status":"$upstream_status","upstream_time":"$upstream_response_time",'
        '"user_agent":"$http_user_agent"}\''
    )
    lines = [
        "# Generated by aurora_cli.gateway.render_nginx_config from ROUTES; do not edit.",
        "daemon off;",
        "worker_processes 1;",
        f"pid {prefix}/nginx.pid;",
        f"error_log {errors} warn;",
        "",
        "events {",
        "    worker_connections 1024;",
        "}",
        "",
        "http {",
        f"    client_body_temp_path {prefix}/client_body_temp;",
        f"    proxy_temp_path {prefix}/proxy_temp;",
        f"    fastcgi_temp_path {prefix}/fastcgi_temp;",
        f"    uwsgi_temp_path {prefix}/uwsgi_temp;",
        f"    scgi_temp_path {prefix}/scgi_temp;",
        "",
        "    server_tokens off;",
        "    default_type application/octet-stream;",
        "    keepalive_timeout 65s;",
        "",
        "    map $http_x_request_id $req_id {",
        "        default $request_id;",
        f'        "~{REQUEST_ID_PATTERN}" $http_x_request_id;',
        "    }",
        "",
        # $uri, not $request_uri: query strings carry OAuth codes and tokens.
        f"    log_format aurora_json escape=json {log_format};",
        f"    access_log {access} aurora_json;",
        "",
        *upstream_blocks,
        "",
        "    server {",
        f"        listen {listen_port};",
        "        server_name _;",
        f"        client_max_body_size {limits[DEFAULT_BODY_LIMIT_KEY]};",
        "",
        # Set only here: a location with its own proxy_set_header/add_header
        # would silently drop all of these.
        "        proxy_http_version 1.1;",
        '        proxy_set_header Connection "";',
        "        proxy_set_header Host $host;",
        "        proxy_set_header X-Request-ID $req_id;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "        proxy_set_header X-Forwarded-Proto $scheme;",
        "        proxy_hide_header X-Request-ID;",
        "        add_header X-Request-ID $req_id always;",
        "",
        *[
            f"        error_page {codes} {_ERROR_PAGE_DIR}{status};"
            for status, codes in _ERROR_PAGES.items()
        ],
        "",
        "        location = /healthz {",
        "            access_log off;",
        "            default_type application/json;",
        '            return 200 \'{"status":"ok"}\';',
        "        }",
        *_locations(limits),
        "        location / {",
        "            return 404;",
        "        }",
        *_error_locations(),
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)


def render_compose_nginx_config() -> str:
    """What `deploy/nginx/nginx.conf` must contain; a test holds the file to it."""
    return render_nginx_config(
        COMPOSE_UPSTREAMS,
        COMPOSE_LISTEN_PORT,
        COMPOSE_PREFIX_DIR,
        access_log="/dev/stdout",
        error_log="stderr",
    )


def nginx_binary() -> str | None:
    """The nginx to run, if any; /usr/sbin is often missing from a non-root PATH."""
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def nginx_command(binary: str, prefix_dir: Path, conf: Path, *, test: bool = False) -> list[str]:
    """Argv that keeps nginx inside `prefix_dir` instead of its compiled-in paths."""
    return [binary, *(["-t"] if test else []), "-p", f"{prefix_dir}/", "-c", str(conf)]


def build_fallback_gateway(
    upstreams: Mapping[str, str], body_limits: Mapping[str, str] | None = None
) -> ASGIApp:
    """The pure-Python gateway for machines without nginx (see `fallback_gateway`)."""
    from aurora_cli.fallback_gateway import FallbackGateway

    return FallbackGateway(upstreams, body_limits=body_limits)


if __name__ == "__main__":
    sys.stdout.write(render_compose_nginx_config())
