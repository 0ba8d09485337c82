"""Accuracy and order independence: the CLI on the public set, scored by ../shared's scorer.

The CLI runs as a user runs it (`aurora dedup resolve RECORDS.json -o PRED.json`) and the
scorer is the shared tool itself, run as a script, so the figures are the ones anyone
reproduces by hand with the two commands of the fixture README.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.dedup_data import PublicSet, canonical_groups, shuffled

Predict = Callable[[Mapping[str, Any]], dict[str, Any]]
SHUFFLE_SEEDS = (1, 2, 3)


def _run(command: Sequence[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"`{shlex.join(command)}` exited with {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return done.stdout


def score(public: PublicSet, cli: Sequence[str], work: Path) -> dict[str, Any]:
    """Pairwise and primary scores of the CLI's prediction, per scenario too."""
    predicted, report = work / "public_pred.json", work / "public_score.json"
    resolve = [*cli, "dedup", "resolve", str(public.records_path), "-o", str(predicted)]
    started = time.perf_counter()
    _run(resolve)
    cli_seconds = time.perf_counter() - started
    scorer = [
        sys.executable,
        str(public.tools / "score_dedup.py"),
        str(public.truth_path),
        str(predicted),
        "--json",
        str(report),
    ]
    text = _run(scorer)
    result: dict[str, Any] = json.loads(report.read_text())
    return {
        "precision": result["precision"],
        "recall": result["recall"],
        "f1": result["f1"],
        "primary_choice": result["primary_accuracy"],
        "primary_end_to_end": result["primary_end_to_end"],
        "pairs": result["pairs"],
        "primary_counts": {
            k: result[k]
            for k in ("primary_ok", "primary_assessed", "primary_e2e_ok", "primary_total")
        },
        "exact_groups": result["exact_groups"],
        "groups": result["groups"],
        "records_missing_from_prediction": result["records_missing_from_prediction"],
        "unknown_ids_in_prediction": result["unknown_ids_in_prediction"],
        "per_scenario": result["per_scenario"],
        "scorer_text": text,
        "cli_seconds": round(cli_seconds, 3),
        "commands": [shlex.join(resolve), shlex.join(scorer)],
    }


def order_independence(public: PublicSet, predict: Predict) -> dict[str, Any]:
    """The same records in other orders must give the same groups and primaries."""
    document = public.records()
    reference = canonical_groups(predict(document))
    differing: list[int] = []
    for seed in SHUFFLE_SEEDS:
        if canonical_groups(predict(shuffled(document, seed))) != reference:
            differing.append(seed)
    return {
        "orders_tried": len(SHUFFLE_SEEDS) + 1,
        "differing_seeds": differing,
        "ok": not differing,
    }
