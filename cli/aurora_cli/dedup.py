"""`aurora dedup resolve`: the dedup core over a benchmark records file, offline.

Reads `aurora-dedup-records/1` (shared/fixtures/dedup/README.md) and writes the
grouping in the truth format the scorer reads, using the same resolution core the
dedup service runs, so a benchmark score is a score of the service's decisions.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aurora_dedup.resolution.benchmark import DocumentError
from aurora_dedup.resolution.benchmark import predict as _predict

BAD_INPUT = 2


def predict(document: Mapping[str, Any], *, explain: bool = False) -> dict[str, Any]:
    """Groups per athlete, `{"format", "users": {user: [{"ids", "primary"}]}}`.

    Raises DocumentError (a ValueError) naming the first bad field.
    """
    with _cycle_collector_paused():
        return _predict(document, explain=explain)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """The core builds no reference cycles (tests/cli/test_dedup_resolve.py checks it), so
    the cycle collector would only walk the growing prediction again and again: a fifth
    or more of the command's time on 200k records. Refcounting still frees what it builds."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def main(args: argparse.Namespace) -> int:
    """`aurora dedup resolve RECORDS.json [-o OUT.json] [--explain]`; 2 on bad input."""
    try:
        document = json.loads(args.records.read_text(encoding="utf-8"))
    except OSError as exc:
        return _fail(f"cannot read {args.records}: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _fail(f"{args.records} is not JSON: {exc}")
    try:
        prediction = predict(document, explain=args.explain)
    except DocumentError as exc:
        return _fail(f"{args.records}: {exc}")
    text = json.dumps(prediction, indent=1, ensure_ascii=False) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        groups = sum(len(g) for g in prediction["users"].values())
        print(
            f"{len(prediction['users'])} athletes, {groups} groups -> {args.out}", file=sys.stderr
        )
    return 0


def _fail(message: str) -> int:
    print(f"aurora dedup resolve: {message}", file=sys.stderr)
    return BAD_INPUT
