"""`aurora dedup resolve`: the dedup core over a benchmark records file, offline.

Reads `aurora-dedup-records/1` (shared/fixtures/dedup/README.md) and writes the
grouping in the truth format the scorer reads, using the same resolution core the
dedup service runs, so a benchmark score is a score of the service's decisions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from aurora_dedup.resolution.benchmark import DocumentError
from aurora_dedup.resolution.benchmark import predict as _predict

BAD_INPUT = 2


def predict(document: Mapping[str, Any], *, explain: bool = False) -> dict[str, Any]:
    """Groups per athlete, `{"format", "users": {user: [{"ids", "primary"}]}}`.

    Raises DocumentError (a ValueError) naming the first bad field.
    """
    return _predict(document, explain=explain)


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
