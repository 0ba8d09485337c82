"""Core speed: the CLI's `predict` against the naive baseline on the same replicated records.

Both run in this process, one after the other and several times, so they share the
machine's state; the best run of each is kept (another process taking a core can only
slow a run down). The baseline is imported by path from ../shared/tools, never copied,
and only its resolving is timed, as its own script times it; `predict` is timed whole
(reading the record dicts included), since that is what the CLI pays per record.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.dedup_data import PublicSet, count_records, replicate

Predict = Callable[[Mapping[str, Any]], dict[str, Any]]
TARGET_RECORDS_PER_S = 100_000.0
TARGET_BASELINE_RATIO = 0.5
MIN_RECORDS = 200_000


def load_tool(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"shared_tools_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _baseline_resolver(baseline: ModuleType) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """The baseline script's own set-up (hierarchy sport match, default priorities)."""
    vocab = json.loads(Path(baseline.VOCAB).read_text())
    lineage = {s: baseline.ancestors(s, vocab["sports"]) for s in vocab["sports"]}

    def related(a: str, b: str) -> bool:
        return a in lineage.get(b, {b}) or b in lineage.get(a, {a})

    def resolve(document: Mapping[str, Any]) -> dict[str, Any]:
        return {
            user: baseline.resolve_user(recs, related, vocab["priority"])
            for user, recs in document["users"].items()
        }

    return resolve


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def measure(
    public: PublicSet, predict: Predict, copies: int, years: int, repeats: int
) -> dict[str, Any]:
    document, truth = replicate(public.records(), public.truth(), copies, years)
    records = count_records(document)
    baseline = load_tool(public.tools / "baseline_dedup.py")
    resolve_baseline = _baseline_resolver(baseline)
    core_runs: list[float] = []
    baseline_runs: list[float] = []
    prediction: dict[str, Any] = {}
    for _ in range(repeats):
        seconds, prediction = _timed(lambda: predict(document))
        core_runs.append(seconds)
        seconds, _ = _timed(lambda: resolve_baseline(document))
        baseline_runs.append(seconds)
    scorer = load_tool(public.tools / "score_dedup.py")
    quality = scorer.score(truth["users"], prediction["users"])
    core_rate = records / min(core_runs)
    baseline_rate = records / min(baseline_runs)
    ratio = core_rate / baseline_rate
    return {
        "records": records,
        "users": len(document["users"]),
        "records_per_user": round(records / len(document["users"]), 1),
        "copies_per_athlete": copies,
        "years_per_user": years,
        "repeats": repeats,
        "core_seconds": [round(s, 3) for s in core_runs],
        "baseline_seconds": [round(s, 3) for s in baseline_runs],
        "core_records_per_s": round(core_rate),
        "baseline_records_per_s": round(baseline_rate),
        "core_to_baseline": round(ratio, 3),
        # The replicated set is many shifted copies of the public one: its scores must
        # match the public scores, or scale (or the year shift) changed a decision.
        "replicated_f1": quality["f1"],
        "replicated_primary_end_to_end": quality["primary_end_to_end"],
        "targets": {
            "records": MIN_RECORDS,
            "records_per_s": TARGET_RECORDS_PER_S,
            "baseline_ratio": TARGET_BASELINE_RATIO,
            "met": records >= MIN_RECORDS
            and core_rate >= TARGET_RECORDS_PER_S
            and ratio >= TARGET_BASELINE_RATIO,
        },
    }
