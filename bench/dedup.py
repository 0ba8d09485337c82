"""`make bench-dedup`: accuracy, core speed and service speed of workout dedup.

Needs the public scenario set in ../shared (beside the repository root); without it there
is nothing to measure and the benchmark says so and exits 0. Accuracy: the CLI
(`aurora dedup resolve`) scored by ../shared/tools/score_dedup.py, plus order
independence. Core speed: the CLI's `predict` against the naive baseline on >= 200k
replicated records. Service: `aurora worker dedup` + `aurora relay dedup` on real
PostgreSQL and Redis (DATABASE_URL / REDIS_URL when set, in a fresh database dropped
afterwards; else embedded servers). Writes bench/results/dedup.md and dedup.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aurora_dedup.config import DedupBusSettings

ROOT = Path(__file__).resolve().parent.parent
Predict = Callable[[Mapping[str, Any]], dict[str, Any]]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--cli", default=str(Path(sys.executable).with_name("aurora")), help="the aurora command")
    add("--predictor", default="aurora_cli.dedup:predict", help="module:function of the core")
    add("--copies", type=int, default=25, help="core: users per public athlete")
    add("--years", type=int, default=5, help="core: years of the athlete's records per user")
    add("--repeats", type=int, default=3, help="core: timed runs of each (best is kept)")
    add("--skip-service", action="store_true", help="accuracy and core speed only")
    add("--users", type=int, default=200, help="service, flat-out: users")
    add("--per-user", type=int, default=100, help="service, flat-out: records per user")
    add("--rate", type=float, default=300.0, help="service, paced: records/s offered")
    add("--duration", type=float, default=20.0, help="service, paced: seconds")
    add("--paced-users", type=int, default=200)
    add("--workers", type=int, default=2, help="`aurora worker dedup` processes")
    # dedup's own defaults (read batch 1,000), or AURORA_BUS_* from the environment as in a service
    bus = DedupBusSettings()
    add("--consumer-batch", type=int, default=bus.consumer_batch_size)
    add("--relay-batch", type=int, default=bus.relay_batch_size)
    add("--relay-linger-ms", type=int, default=bus.relay_linger_ms)
    add(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="cProfile the worker's handler (auto: when the service targets are missed)",
    )
    add("--out-dir", type=Path, default=ROOT / "bench" / "results")
    return parser.parse_args(argv)


def load_predictor(spec: str) -> Predict:
    module, _, name = spec.partition(":")
    function: Predict = getattr(importlib.import_module(module), name or "predict")
    return function


async def service_part(args: argparse.Namespace, public: Any, work: Path) -> dict[str, Any]:
    from aurora_shared.bus.runtime import make_redis
    from bench import bus_report
    from bench.bus_bench import background_load
    from bench.bus_infra import servers
    from bench.dedup_service import ServiceParams, run_service

    params = ServiceParams(
        users=args.users,
        per_user=args.per_user,
        rate=args.rate,
        duration_s=args.duration,
        paced_users=args.paced_users,
        workers=args.workers,
        consumer_batch=args.consumer_batch,
        relay_batch=args.relay_batch,
        relay_linger_ms=args.relay_linger_ms,
    )
    with servers(work / "servers") as srv:
        print(f"servers: {bus_report.describe_servers(srv)}", flush=True)
        busy = await background_load()
        if busy > 0.1:
            print(f"warning: the machine is {busy:.0%} busy before the service run", flush=True)
        redis = make_redis(srv.redis_url)
        try:
            machine = await bus_report.machine(srv.database_url, redis)
        finally:
            await redis.aclose()
        machine["busy_before_service"] = round(busy, 3)
        service = await run_service(srv, params, public, work, args.profile)
        return {"service": service, "machine": machine, "servers": bus_report.describe_servers(srv)}


def main(argv: list[str]) -> int:
    # Run as a script, so the repository root (for `bench.*`) is not on sys.path yet.
    sys.path.insert(0, str(ROOT))
    from bench import bus_report, dedup_accuracy, dedup_core, dedup_report
    from bench.bus_bench import background_load
    from bench.dedup_data import locate_public_set

    args = parse_args(argv)
    public = locate_public_set(ROOT)
    if public is None:
        print(f"skipped: no public scenario set in {ROOT.parent / 'shared'}", flush=True)
        return 0
    started = time.time()
    busy = asyncio.run(background_load())
    predict = load_predictor(args.predictor)
    with tempfile.TemporaryDirectory(prefix="aurora-bench-dedup-") as tmp:
        work = Path(tmp)
        print("accuracy: the CLI on the public set, scored by score_dedup.py", flush=True)
        accuracy = dedup_accuracy.score(public, args.cli.split(), work)
        order = dedup_accuracy.order_independence(public, predict)
        print(f"core speed: predict vs baseline, {args.copies}x{args.years} copies", flush=True)
        core = dedup_core.measure(public, predict, args.copies, args.years, args.repeats)
        machine: dict[str, Any] = {**dedup_report.machine_basic(), "busy_before_run": busy}
        extra: dict[str, Any] = {}
        if not args.skip_service:
            print("service path: ingest.records -> worker -> outbox -> relay -> dedup.timeline")
            try:
                extra = asyncio.run(service_part(args, public, work))
                machine = {**machine, **extra["machine"]}
            except Exception as exc:  # the service's own failure is a result, not a crash
                extra = {"service_error": f"{type(exc).__name__}: {exc}"}
                print(f"service path FAILED: {extra['service_error']}", flush=True)
    service = extra.get("service")
    result: dict[str, Any] = {
        "f1": accuracy["f1"],
        "precision": accuracy["precision"],
        "recall": accuracy["recall"],
        "primary_choice": accuracy["primary_choice"],
        "primary_end_to_end": accuracy["primary_end_to_end"],
        "core_records_per_s": core["core_records_per_s"],
        "baseline_records_per_s": core["baseline_records_per_s"],
        "core_to_baseline": core["core_to_baseline"],
        "service_records_per_s": service["service_records_per_s"] if service else None,
        "service_p50_ms": service["service_p50_ms"] if service else None,
        "service_p99_ms": service["service_p99_ms"] if service else None,
        "bus_ceiling": dedup_report.bus_ceiling(),
        "accuracy": {k: v for k, v in accuracy.items() if k != "scorer_text"},
        "order_independence": order,
        "core": core,
        "service": service,
        "service_error": extra.get("service_error"),
        "servers": extra.get("servers"),
        "machine": machine,
        "command": bus_report.command(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": round(time.time() - started, 1),
    }
    paths = dedup_report.write_results(result, args.out_dir)
    print(accuracy["scorer_text"])
    print(
        f"F1 {result['f1']:.4f}, primary end-to-end {result['primary_end_to_end']:.4f}; core "
        f"{core['core_records_per_s']:,} records/s = {core['core_to_baseline']:.2f}x baseline "
        f"({core['baseline_records_per_s']:,}/s)"
        + (
            f"; service {service['service_records_per_s']:,.0f} records/s, p99 "
            f"{service['service_p99_ms']} ms at {args.rate:.0f}/s"
            if service
            else ""
        )
    )
    print("wrote " + ", ".join(str(p) for p in paths))
    service_ok = service["checks"]["ok"] if service else "service_error" not in extra
    ok = order["ok"] and service_ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
