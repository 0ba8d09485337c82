"""`make bench-fit`: FIT decoding throughput, Aurora's decoder against fitdecode, one run.

Three timings per file, best of --repeat runs each, in one process:
  * fitdecode: its FitReader iterated over every frame (decode only, CRC checked);
  * aurora decode: aurora_ingest.fit.decoder.decode;
  * aurora full path: decode + workouts_of (the normaliser) when it is present.
Inputs: every valid file of ../shared/fixtures/fit when present, and files the
test encoder generates (a 1 h and a 4 h ride, a multisport with hr messages).
The ratio the issue asks for is fitdecode's time over Aurora's FULL path time.
Writes bench/results/fit.md and bench/results/fit.json.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import platform
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import fitdecode  # type: ignore[import-untyped]

from aurora_ingest.fit.decoder import decode

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures" / "fit"
ENCODER = ROOT / "services" / "ingest" / "tests" / "fit" / "encoder.py"


def _normaliser() -> Callable[..., Any] | None:
    try:
        from aurora_ingest.fit import normalize
    except ImportError:
        return None
    workouts_of: Callable[..., Any] | None = getattr(normalize, "workouts_of", None)
    return workouts_of


def _encoder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("aurora_bench_fit_encoder", ENCODER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def generated() -> dict[str, bytes]:
    enc = _encoder()
    spec = enc.SessionSpec
    return {
        "generated/ride-1h.fit": enc.activity_file(sessions=[spec("cycling", "road", 3600)]),
        "generated/ride-4h-dev.fit": enc.activity_file(
            sessions=[spec("cycling", "road", 4 * 3600)], developer_field=True
        ),
        "generated/triathlon-hr.fit": enc.activity_file(
            sessions=[spec("swimming", "open_water", 1800), spec("transition", "generic", 120),
                      spec("cycling", "road", 3600), spec("running", "generic", 1800)],
            hr_messages=True,
        ),
    }  # fmt: skip


def _best(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _fitdecode(data: bytes) -> int:
    count = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE) as reader:
            for frame in reader:
                count += frame.frame_type == fitdecode.FIT_FRAME_DATA
    return count


def _full(data: bytes, workouts_of: Callable[..., Any] | None) -> None:
    fit = decode(data)
    if workouts_of is None:
        return
    try:
        workouts_of(fit, sha256=hashlib.sha256(data).hexdigest())
    except Exception as exc:
        if type(exc).__name__ != "NotAnActivityError":
            raise


def run(args: argparse.Namespace) -> dict[str, Any]:
    inputs: dict[str, bytes] = {}
    if FIXTURES.exists() and not args.generated_only:
        inputs.update({p.name: p.read_bytes() for p in sorted(FIXTURES.glob("*.fit"))})
    inputs.update(generated())
    workouts_of = _normaliser()
    rows = []
    for name, data in inputs.items():
        messages = len(decode(data).messages)
        assert messages == _fitdecode(data), name
        rows.append(
            {
                "file": name,
                "bytes": len(data),
                "messages": messages,
                "fitdecode_s": _best(lambda d=data: _fitdecode(d), args.fitdecode_repeat),  # type: ignore[misc]
                "aurora_decode_s": _best(lambda d=data: decode(d), args.repeat),  # type: ignore[misc]
                "aurora_full_s": _best(lambda d=data: _full(d, workouts_of), args.repeat),  # type: ignore[misc]
            }
        )
        print(
            f"{name:50} {rows[-1]['fitdecode_s']:8.3f}s {rows[-1]['aurora_full_s']:8.3f}s",
            file=sys.stderr,
        )
    return summarise(rows, workouts_of is not None, args)


def summarise(
    rows: list[dict[str, Any]], normaliser: bool, args: argparse.Namespace
) -> dict[str, Any]:
    total_bytes = sum(r["bytes"] for r in rows)
    total_messages = sum(r["messages"] for r in rows)
    fd = sum(r["fitdecode_s"] for r in rows)
    dec = sum(r["aurora_decode_s"] for r in rows)
    full = sum(r["aurora_full_s"] for r in rows)
    mb = total_bytes / 1e6
    return {
        "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}",
        "cpu": _cpu(),
        "command": "make bench-fit  (.venv/bin/python bench/fit.py " + " ".join(sys.argv[1:]) + ")",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "fitdecode_version": fitdecode.__version__,
        "files": len(rows),
        "bytes": total_bytes,
        "messages": total_messages,
        "normaliser_included": normaliser,
        "fitdecode_mb_s": mb / fd,
        "fitdecode_msg_s": total_messages / fd,
        "aurora_decode_mb_s": mb / dec,
        "aurora_decode_msg_s": total_messages / dec,
        "aurora_mb_s": mb / full,
        "aurora_msg_s": total_messages / full,
        "ratio": fd / full,
        "ratio_decode_only": fd / dec,
        "repeat": args.repeat,
        "fitdecode_repeat": args.fitdecode_repeat,
        "rows": rows,
    }


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write(result: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "fit.json").write_text(json.dumps(result, indent=2) + "\n")
    r = result
    lines = [
        "# FIT decoding benchmark",
        "",
        f"- machine: {result['cpu']} ({result['machine']})",
        f"- command: `{result['command']}`",
        f"- date: {result['date']}; fitdecode {result['fitdecode_version']}; best of "
        f"{r['repeat']} (Aurora) / {r['fitdecode_repeat']} (fitdecode) runs per file, one process",
        f"- inputs: {r['files']} files, {r['bytes'] / 1e6:.2f} MB, {r['messages']} messages; "
        f"full path includes the normaliser: {'yes' if r['normaliser_included'] else 'NO'}",
        "",
        "| path | MB/s | messages/s |",
        "|---|---:|---:|",
        f"| fitdecode (decode only) | {r['fitdecode_mb_s']:.2f} | {r['fitdecode_msg_s']:,.0f} |",
        f"| Aurora decode | {r['aurora_decode_mb_s']:.2f} | {r['aurora_decode_msg_s']:,.0f} |",
        f"| Aurora decode + normalise | {r['aurora_mb_s']:.2f} | {r['aurora_msg_s']:,.0f} |",
        "",
        f"**Ratio (fitdecode decode time / Aurora full path time): {result['ratio']:.1f}x** "
        f"(decode only: {result['ratio_decode_only']:.1f}x; target >= 5x)",
        "",
        "| file | bytes | messages | fitdecode s | Aurora decode s | Aurora full s | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        ratio = row["fitdecode_s"] / row["aurora_full_s"]
        lines.append(
            f"| {row['file']} | {row['bytes']} | {row['messages']} | {row['fitdecode_s']:.4f} | "
            f"{row['aurora_decode_s']:.4f} | {row['aurora_full_s']:.4f} | {ratio:.1f} |"
        )
    (out_dir / "fit.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per file for Aurora (best kept)"
    )
    parser.add_argument(
        "--fitdecode-repeat", type=int, default=2, help="runs per file for fitdecode"
    )
    parser.add_argument("--generated-only", action="store_true", help="skip the fixture corpus")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    result = run(args)
    write(result, args.out_dir)
    print(
        f"fitdecode {result['fitdecode_mb_s']:.2f} MB/s, "
        f"Aurora full path {result['aurora_mb_s']:.2f} MB/s "
        f"(decode {result['aurora_decode_mb_s']:.2f} MB/s): ratio {result['ratio']:.1f}x"
    )


if __name__ == "__main__":
    main()
