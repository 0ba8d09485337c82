"""The one `aurora` command that hosts every command-line tool of the suite."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from aurora_cli.services import SERVICES, load_spec, produced_streams


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aurora", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the whole suite behind one gateway port")
    run.add_argument("--port", type=int, default=int(os.environ.get("AURORA_GATEWAY_PORT", "8080")))
    run.add_argument(
        "--base-port",
        type=int,
        default=int(os.environ.get("AURORA_BASE_PORT", "8101")),
        help="first of four consecutive ports for the service APIs",
    )
    run.add_argument("--state-dir", type=Path, default=Path(".aurora"))
    gw = run.add_mutually_exclusive_group()
    gw.add_argument("--nginx", dest="nginx", action="store_true", default=None)
    gw.add_argument("--python-gateway", dest="nginx", action="store_false")

    migrate = sub.add_parser("migrate", help="upgrade every service's schema (or the ones named)")
    migrate.add_argument("services", nargs="*", metavar="SERVICE", help=", ".join(SERVICES))

    for role, text in (
        ("serve", "run one service's HTTP API"),
        ("worker", "run one service's stream consumers"),
        ("relay", "run one service's outbox relay, reconciler and trimming"),
        ("tasks", "run one service's scheduled jobs (arq), where it has any"),
    ):
        p = sub.add_parser(role, help=text)
        p.add_argument("service", choices=SERVICES)
        if role == "serve":
            p.add_argument("--host", default="127.0.0.1")
            p.add_argument("--port", type=int, default=None)

    gateway = sub.add_parser("gateway", help="run the pure-Python gateway (no nginx)")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=8080)

    users = sub.add_parser("users", help="operator commands on accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    set_role = users_sub.add_parser("set-role", help="give an account a role (first admin)")
    set_role.add_argument("email")
    set_role.add_argument("role", choices=["athlete", "coach", "admin"])
    reapply = users_sub.add_parser(
        "reapply-erasures",
        help="after restoring a backup: erase again every user purged since it was taken",
    )
    reapply.add_argument("--since", required=True, help="backup time, RFC 3339 with offset")

    imp = sub.add_parser("import", help="import activity files through the running suite's API")
    imp_sub = imp.add_subparsers(dest="import_kind", required=True)
    fit = imp_sub.add_parser("fit", help="FIT files: a .fit, a .zip of them, or a folder")
    fit.add_argument("paths", nargs="+", metavar="PATH")
    fit.add_argument(
        "--url",
        default=os.environ.get("AURORA_URL", "http://127.0.0.1:8080"),
        help="the gateway (default: AURORA_URL or http://127.0.0.1:8080)",
    )
    fit.add_argument("--token", default=None, help="access token (default: AURORA_TOKEN)")
    apple = imp_sub.add_parser(
        "apple-health", help="an iPhone Health export: export.zip or export.xml"
    )
    apple.add_argument("path", metavar="EXPORT")
    apple.add_argument("--url", default=fit.get_default("url"), help="the gateway (as for fit)")
    apple.add_argument("--token", default=None, help="access token (default: AURORA_TOKEN)")

    dlq = sub.add_parser("dlq", help="inspect and replay dead-lettered events")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    lst = dlq_sub.add_parser("list", help="list dead letters with their errors")
    lst.add_argument("--stream", action="append", help="stream name (default: all streams)")
    lst.add_argument("--count", type=int, default=100)
    rep = dlq_sub.add_parser("replay", help="put dead letters back on their stream")
    rep.add_argument("stream")
    rep.add_argument("ids", nargs="*", help="dead-letter entry ids (default: all)")

    dedup = sub.add_parser("dedup", help="workout dedup tools")
    dedup_sub = dedup.add_subparsers(dest="dedup_command", required=True)
    resolve = dedup_sub.add_parser("resolve", help="group a dedup records file, elect primaries")
    resolve.add_argument("records", type=Path, metavar="RECORDS.json")
    resolve.add_argument("-o", "--out", type=Path, help="write here instead of stdout")
    resolve.add_argument("--explain", action="store_true", help="add each record's reason")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        from aurora_cli.dev_run import RunOptions, run

        return run(RunOptions(args.state_dir, args.port, args.base_port, args.nginx))
    if args.command == "migrate":
        for name in args.services or SERVICES:
            load_spec(name).migrate()
            print(f"{name}: at head")
        return 0
    if args.command == "serve":
        load_spec(args.service).serve(args.host, args.port)
        return 0
    if args.command == "worker":
        load_spec(args.service).worker()
        return 0
    if args.command == "relay":
        load_spec(args.service).relay()
        return 0
    if args.command == "tasks":
        spec = load_spec(args.service)
        if spec.tasks is None:
            print(f"{args.service} has no scheduled jobs", file=sys.stderr)
            return 2
        spec.tasks()
        return 0
    if args.command == "gateway":
        return _gateway(args.host, args.port)
    if args.command == "import":
        if args.import_kind == "apple-health":
            from aurora_cli.apple_import import main as apple_main

            return apple_main(args)
        from aurora_cli.importer import main as import_main

        return import_main(args)
    if args.command == "users" and args.users_command == "reapply-erasures":
        from aurora_identity.gdpr.restore import main as reapply_erasures

        reapply_erasures(["--since", args.since])
        return 0
    if args.command == "dedup":
        from aurora_cli.dedup import main as dedup_main

        return dedup_main(args)
    if args.command == "users":
        from aurora_cli.operator import set_role

        return asyncio.run(set_role(args.email, args.role))
    return asyncio.run(_dlq(args))


def _gateway(host: str, port: int) -> int:
    import uvicorn

    from aurora_cli.gateway import build_fallback_gateway

    upstreams = {
        name: os.environ.get(f"AURORA_UPSTREAM_{name.upper()}", f"127.0.0.1:{8101 + i}")
        for i, name in enumerate(SERVICES)
    }
    uvicorn.run(build_fallback_gateway(upstreams), host=host, port=port, log_level="warning")
    return 0


async def _dlq(args: argparse.Namespace) -> int:
    from aurora_shared.bus.dlq import list_dead_letters, replay_dead_letters
    from aurora_shared.bus.runtime import make_redis

    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        print("REDIS_URL must be set", file=sys.stderr)
        return 2
    redis = make_redis(redis_url)
    try:
        if args.dlq_command == "list":
            total = 0
            for stream in args.stream or produced_streams():
                for letter in await list_dead_letters(redis, stream, count=args.count):
                    total += 1
                    print(
                        f"{letter.stream}\t{letter.dlq_id}\tgroup={letter.group}\t"
                        f"type={letter.event_type}\tevent={letter.event_id}\t"
                        f"deliveries={letter.deliveries}\tfailed_at={letter.failed_at}\t"
                        f"error={letter.error}"
                    )
            print(f"{total} dead letter(s)")
            return 0
        replayed = await replay_dead_letters(redis, args.stream, args.ids or None)
        print(f"replayed {len(replayed)} event(s) onto {args.stream}")
        return 0
    finally:
        await redis.aclose()


if __name__ == "__main__":
    sys.exit(main())
