"""`make bench-bus`: events/s and latency through the full reliable event path.

Outbox -> relay -> Redis stream -> consumer (inbox + effect row, one commit), with the
raw redis-py and asyncpg rates measured in the same run as ceilings. Uses DATABASE_URL /
REDIS_URL when set (in a fresh database it drops afterwards), else embedded servers in a
temp dir. Writes bench/results/bus.md and bench/results/bus.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aurora_shared.config import BusSettings

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--events", type=int, default=20_000, help="events in the flat-out phase")
    add("--batch", type=int, default=50, help="events per producer transaction")
    add("--producers", type=int, default=1, help="concurrent producers, flat-out phase")
    add("--single-events", type=int, default=3_000, help="events in the 1-per-txn phase")
    add("--single-producers", type=int, default=8)
    add("--rate", type=float, default=500.0, help="offered events/s in the latency phase")
    add("--duration", type=float, default=20.0, help="seconds of the latency phase")
    add("--paced-producers", type=int, default=16)
    add("--raw-events", type=int, default=20_000, help="events for each raw ceiling")
    bus = BusSettings()  # defaults, or AURORA_BUS_* from the environment as in a service
    add("--relay-batch", type=int, default=bus.relay_batch_size)
    add("--relay-linger-ms", type=int, default=bus.relay_linger_ms)
    add("--consumer-batch", type=int, default=bus.consumer_batch_size)
    add("--consumers", type=int, default=2, help="consumer processes in the group")
    add("--log-level", default="INFO", help="relay/consumer log level (JSON to /dev/null)")
    add("--out-dir", type=Path, default=ROOT / "bench" / "results")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    # Run as a script, so the repository root (for `bench.*`) is not on sys.path yet;
    # spawned children inherit this sys.path.
    sys.path.insert(0, str(ROOT))
    from bench.bus_bench import Params, run
    from bench.bus_report import write_results

    args = parse_args(argv)
    params = Params(
        events=args.events,
        batch=args.batch,
        producers=args.producers,
        single_events=args.single_events,
        single_producers=args.single_producers,
        rate=args.rate,
        duration_s=args.duration,
        paced_producers=args.paced_producers,
        raw_events=args.raw_events,
        relay_batch=args.relay_batch,
        relay_linger_ms=args.relay_linger_ms,
        consumer_batch=args.consumer_batch,
        consumers=args.consumers,
        log_level=args.log_level,
    )
    result = asyncio.run(run(params))
    paths = write_results(result, args.out_dir)
    print(
        f"full path {result['events_per_s']:,.0f} events/s "
        f"(raw redis {result['raw_redis_per_s']:,.0f}/s, raw insert "
        f"{result['raw_insert_per_s']:,.0f}/s); at {params.rate:.0f}/s offered "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms; "
        f"targets {'met' if result['targets']['met'] else 'NOT met'}; "
        f"checks {'ok' if result['checks']['ok'] else 'FAILED'}"
    )
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0 if result["checks"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
