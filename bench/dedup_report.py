"""What `make bench-dedup` writes: bench/results/dedup.json and a readable dedup.md.

The bus benchmark's own figures (bench/results/bus.json) are copied beside the service
figures: the dedup path cannot be faster than the bare event path it rides on, so the
ratio says how much of the path's time is dedup's own work.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import psutil

from bench.bus_report import write_report
from bench.dedup_data import ROOT

BUS_RESULTS = ROOT / "bench" / "results" / "bus.json"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text(errors="replace").splitlines() if cpuinfo.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_basic() -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def bus_ceiling(path: Path = BUS_RESULTS) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    bus = json.loads(path.read_text())
    keys = ("events_per_s", "p50_ms", "p99_ms", "raw_redis_per_s", "raw_insert_per_s")
    return {
        "source": str(path.relative_to(ROOT)),
        "measured_at": bus.get("started_at"),
        **{k: bus.get(k) for k in keys},
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _scenario_rows(per: dict[str, dict[str, int]]) -> list[str]:
    rows = [
        "| scenario | groups | exact | true pairs | missed (fn) | false (fp) | recall | primary "
        "| end-to-end |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in per.items():
        pairs, fn = s.get("true_pairs", 0), s.get("fn_pairs", 0)
        recall = f"{1 - fn / pairs:.3f}" if pairs else "-"
        total = s.get("primary_total", 0)
        choice = f"{s.get('primary_ok', 0)}/{s.get('primary_assessed', 0)}" if total else "-"
        e2e = f"{s.get('primary_e2e_ok', 0)}/{total}" if total else "-"
        rows.append(
            f"| {name} | {s['groups']} | {s.get('exact', 0)} | {pairs} | {fn} | "
            f"{s.get('fp_pairs', 0)} | {recall} | {choice} | {e2e} |"
        )
    return rows


def _accuracy(a: dict[str, Any], order: dict[str, Any]) -> list[str]:
    p = a["pairs"]
    return [
        "## Accuracy (public set)",
        "",
        f"- Pairs: {p['true']} true, {p['predicted']} predicted, {p['tp']} right, {p['fp']} "
        f"false, {p['fn']} missed: **precision {_pct(a['precision'])}, recall "
        f"{_pct(a['recall'])}, F1 {_pct(a['f1'])}**.",
        f"- Primary: choice **{_pct(a['primary_choice'])}** "
        f"({a['primary_counts']['primary_ok']}/{a['primary_counts']['primary_assessed']} "
        f"assessed), end-to-end **{_pct(a['primary_end_to_end'])}** "
        f"({a['primary_counts']['primary_e2e_ok']}/{a['primary_counts']['primary_total']} "
        f"multi-record groups); exact groups {a['exact_groups']}/{a['groups']}.",
        f"- Order independence: {order['orders_tried']} orders of the public set (users reversed, "
        f"records shuffled): **{'identical' if order['ok'] else 'DIFFERENT'}** groups and "
        f"primaries.",
        "- Commands: " + "; ".join(f"`{c}`" for c in a["commands"]),
        "",
        *_scenario_rows(a["per_scenario"]),
        "",
    ]


def _core(c: dict[str, Any]) -> list[str]:
    t = c["targets"]
    return [
        "## Core speed",
        "",
        f"- {c['records']:,} records: the public set copied {c['copies_per_athlete']} times per "
        f"athlete ({c['users']} users), each copy holding {c['years_per_user']} years "
        f"(shifted 52 weeks apart, fresh external ids): {c['records_per_user']:,} records per "
        "user.",
        f"- CLI core (`predict`, whole): **{c['core_records_per_s']:,} records/s** (best of "
        f"{c['repeats']}: {c['core_seconds']} s).",
        f"- Baseline `resolve_user` (../shared/tools/baseline_dedup.py, resolving only): "
        f"**{c['baseline_records_per_s']:,} records/s** ({c['baseline_seconds']} s); core / "
        f"baseline = **{c['core_to_baseline']:.2f}**.",
        f"- Targets (>= {t['records_per_s']:,.0f} records/s on >= {t['records']:,} records, >= "
        f"{t['baseline_ratio']}x baseline): **{'met' if t['met'] else 'NOT met'}**.",
        f"- Same quality at scale: F1 {_pct(c['replicated_f1'])}, end-to-end "
        f"{_pct(c['replicated_primary_end_to_end'])} on the replicated set.",
        "",
    ]


def _phase_row(name: str, ph: dict[str, Any]) -> str:
    lat = ph["latency_ms"]
    offered = "at once" if name == "flat" else f"{ph['offered_per_s']:,.0f}"
    return (
        f"| {name} | {ph['records']:,} | {offered} | {ph['records_per_s']:,.0f} "
        f"| {ph['cpu_bound_records_per_s'] or 'n/a'} | {ph['resolved_events']:,} | "
        f"{lat.get('p50')} | {lat.get('p95')} | {lat.get('p99')} | {lat.get('max')} |"
    )


def _cpu_row(name: str, ph: dict[str, Any]) -> str:
    us, cpu = ph["cpu_us_per_record"], ph["cpu_s"]
    cells = " | ".join(
        f"{us.get(r, 0):,}" for r in ("worker", "relay", "postgres", "redis", "other_processes")
    )
    db = ph["db_per_record"]
    return (
        f"| {name} | {cells} | {cpu['machine_utilisation']:.0%} | {db['xact_commit']} | "
        f"{db['tup_returned'] + db['tup_fetched']:,.0f} | {db['tup_inserted']} | "
        f"{db['tup_updated']} | {db['deadlocks']} |"
    )


def _service(s: dict[str, Any], bus: dict[str, Any] | None) -> list[str]:
    t, ph, p, c = s["targets"], s["phases"], s["params"], s["checks"]
    ceiling = (
        f"- Raw bus ceiling (bench/results/bus.json, {bus['measured_at']}): full reliable path "
        f"{bus['events_per_s']:,.0f} events/s, p99 {bus['p99_ms']} ms at 500/s; raw Redis "
        f"{bus['raw_redis_per_s']:,.0f}/s, raw INSERT {bus['raw_insert_per_s']:,.0f}/s. Dedup "
        f"path = {s['service_records_per_s'] / bus['events_per_s']:.0%} of the bare bus."
        if bus
        else "- Raw bus ceiling: bench/results/bus.json not found (run `make bench-bus`)."
    )
    lines = [
        "## Service path",
        "",
        f"- Max throughput: {ph['flat']['records']:,} records ({p['users']} users) published at "
        f"once -> **{s['service_records_per_s']:,.0f} records/s** until the last "
        "workout.resolved.",
        f"- Lag at {p['rate']:.0f} records/s offered for {p['duration_s']:.0f} s: **p50 "
        f"{s['service_p50_ms']} ms, p99 {s['service_p99_ms']} ms** (publish -> first "
        "workout.resolved naming the record, from the actual publish; the publisher fell "
        f"behind its schedule by at most {ph['paced']['publisher_max_lag_ms']} ms).",
        f"- Targets (>= {t['records_per_s']:,.0f} records/s, p99 < {t['p99_ms']:.0f} ms): "
        f"**{'met' if t['met'] else 'NOT met'}**.",
        ceiling,
        f"- Checks: {c['published']:,} published, {c['source_records']:,} source records, "
        f"{c['canonicals']:,} canonicals, {c['unpublished']} unpublished, {c['pending']} pending, "
        f"{c['dead_lettered']} dead-lettered: **{'ok' if c['ok'] else 'FAILED'}**.",
        "",
        "| phase | records | offered/s | through/s | CPU-bound/s | resolved events | p50 ms "
        "| p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(_phase_row(k, ph[k]) for k in ("flat", "paced")),
        "",
        "CPU-bound/s = cores x 1e6 / (worker + relay + postgres + redis CPU us per record): "
        "the rate the path's own CPU allows when nothing else runs on the machine ('other' "
        "below is everything else, e.g. other test runs). CPU in microseconds per record "
        "(psutil per process), and PostgreSQL work per record (pg_stat_database deltas: "
        "commits, rows read, inserted, updated; deadlocks):",
        "",
        "| phase | worker | relay | postgres | redis | other | util | commits | rows read "
        "| inserted | updated | deadlocks |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(_cpu_row(k, ph[k]) for k in ("flat", "paced")),
        "",
        "Table scans per record in the flat-out phase (pg_stat_user_tables):",
        "",
        "| table | seq scans | rows read by seq scans | index scans | rows fetched by index |",
        "|---|---|---|---|---|",
        *(
            f"| {t} | {c['seq_scan']} | {c['seq_tup_read']} | {c['idx_scan']} | "
            f"{c['idx_tup_fetch']} |"
            for t, c in ph["flat"].get("tables_per_record", {}).items()
        ),
        "",
        f"Processes: `aurora relay dedup` and {p['workers']} x `aurora worker dedup` (one "
        f"consumer group), consumer batch {p['consumer_batch']}, relay batch {p['relay_batch']}, "
        f"linger {p['relay_linger_ms']} ms; log lines by level: `{json.dumps(s['logs'])}`.",
        "",
    ]
    prof = s.get("profile")
    if prof and "error" in prof:
        lines += [f"Profile failed: {prof['error']}", ""]
    elif prof:
        lines += [
            "### Where a worker's time goes (in-process cProfile of the workout.ingested handler)",
            "",
            f"{prof['events']:,} events in transactions of {prof['batch']}, one process, no "
            f"profiler: {prof['ms_per_event']} ms per event ({prof['events_per_s']:,.0f}/s), of "
            f"which {prof['cpu_ms_per_event']} ms CPU in the handler's process; "
            f"{prof['statements_per_event']} SQL statements per event, "
            f"{prof['sql_wait_share']:.0%} of the time waiting on them.",
            "",
            "| statement | per event | per transaction | ms per event |",
            "|---|---|---|---|",
            *(
                f"| `{k}` | {v['per_event']} | {v['per_transaction']} | {v['ms_per_event']} |"
                for k, v in prof["statements"].items()
            ),
            "",
            "Profiled CPU by library (own time): "
            + ", ".join(f"{k} {v:.0%}" for k, v in prof["cpu_by_library"].items())
            + ".",
            "",
            f"cProfile (CPU time of the handler's process, {prof['profiled_events']:,} more "
            "events of other users; the profiler itself inflates every figure):",
            "",
            "```",
            prof["cprofile"].strip(),
            "```",
            "",
        ]
    return lines


def render_markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Workout dedup benchmark",
        "",
        f"Run {r['started_at']}, {r['wall_seconds']} s wall. Regenerate with `make bench-dedup`.",
        "",
        f"Command: `{r['command']}`",
        "",
        "| f1 | primary end-to-end | core records/s | baseline records/s | service records/s "
        "| service p99 ms |",
        "|---|---|---|---|---|---|",
        f"| {_pct(r['f1'])} | {_pct(r['primary_end_to_end'])} | "
        f"{r['core_records_per_s'] or 'n/a'} | {r['baseline_records_per_s'] or 'n/a'} | "
        f"{r['service_records_per_s'] or 'n/a'} | {r['service_p99_ms'] or 'n/a'} |",
        "",
        *_accuracy(r["accuracy"], r["order_independence"]),
        *(_core(r["core"]) if r.get("core") else []),
        *(_service(r["service"], r["bus_ceiling"]) if r.get("service") else []),
        *(
            ["## Service path", "", f"**FAILED**: {r['service_error']}", ""]
            if r.get("service_error")
            else []
        ),
        "## Machine",
        "",
        f"- {m.get('cpu_model', '?')}, {m['cores']} cores, RAM {m['ram_gib']} GiB, {m['os']}, "
        f"Python {m['python']}; {m.get('busy_before_run', 0):.0%} busy before the run.",
    ]
    if "postgres" in m:
        lines.append(
            f"- PostgreSQL {m['postgres']['server_version']} (fsync={m['postgres']['fsync']}, "
            f"synchronous_commit={m['postgres']['synchronous_commit']}), Redis "
            f"{m['redis'].get('redis_version')}; servers: {json.dumps(r.get('servers'))}"
        )
    lines.append("")
    return "\n".join(lines)


def write_results(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    return write_report(out_dir, "dedup", result, render_markdown(result))
