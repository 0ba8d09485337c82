"""One phase of the Apple Health benchmark, run in its own process so its peak RSS is its own.

Usage: python -m bench.apple_health_phases PHASE FILE [DATABASE_URL]
Prints one JSON line: seconds, bytes, peak_rss_mb (+ phase details).
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aurora_ingest.apple.parse_process import peak_rss_mb


def raw_expat(path: Path) -> dict[str, Any]:
    """The chosen parser alone: hardened expat, top-level elements materialised and dropped."""
    from aurora_ingest.apple.parser import read_items
    from aurora_ingest.apple.service import SKIP

    elements = 0
    with path.open("rb") as stream:
        for _, items in read_items(stream, skip=SKIP):
            elements += len(items)
    return {"elements": elements}


def raw_etree(path: Path) -> dict[str, Any]:
    """The honest baseline: the standard library's plain streaming parse, elements cleared.

    Nothing hardened, nothing materialised beyond what iterparse builds: the
    fastest a Python-level streaming read of this file gets on this machine.
    """
    from xml.etree.ElementTree import iterparse

    elements = 0
    for _, element in iterparse(path, events=("end",)):
        elements += 1
        element.clear()
    return {"elements": elements}


def raw_lxml(path: Path) -> dict[str, Any]:
    """lxml >= 6.1 iterparse with explicit safe flags, clearing processed elements."""
    from lxml import etree  # type: ignore[import-untyped, import-not-found, unused-ignore]

    elements = 0
    context = etree.iterparse(
        str(path),
        events=("end",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
    )
    for _, element in context:
        if element.getparent() is not None and element.getparent().getparent() is None:
            elements += 1
            element.clear()
            root = element.getparent()
            while element.getprevious() is not None:
                del root[0]
    return {"elements": elements, "lxml": ".".join(map(str, etree.LXML_VERSION))}


def healthkit_to_sqlite(path: Path) -> dict[str, Any]:
    out = path.with_suffix(".h2s.db")
    out.unlink(missing_ok=True)
    binary = Path(sys.executable).with_name("healthkit-to-sqlite")
    proc = subprocess.run(
        [str(binary), "--xml", "--silent", str(path), str(out)], capture_output=True, check=False
    )
    out.unlink(missing_ok=True)
    # healthkit-to-sqlite is a grandchild: its maxrss was measured after our own exec.
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.decode()[-2000:])
    return {"h2s_peak_rss_mb": children}


async def full_import(path: Path, database_url: str) -> dict[str, Any]:
    from aurora_ingest.apple.service import Progress, import_export
    from aurora_shared.db import make_engine, make_sessionmaker

    engine = make_engine(database_url, pool_size=2)
    rss: list[float] = []

    async def progress(_: Progress) -> None:
        rss.append(peak_rss_mb())

    async def cancelled() -> bool:
        return False

    try:
        summary = await import_export(
            make_sessionmaker(engine),
            user_id=uuid.uuid4(),
            path=path,
            progress=progress,
            cancelled=cancelled,
        )
    finally:
        await engine.dispose()
    return {
        "records": sum(summary.records.values()),
        "samples": summary.samples,
        "workouts": summary.workouts,
        "health_records": summary.health_records,
        # The parser child's own peak, added to this process's: the import's memory.
        "child_peak_rss_mb": summary.parser_peak_rss_mb,
    }


def main() -> None:
    phase, file = sys.argv[1], Path(sys.argv[2])
    started = time.perf_counter()
    if phase == "import":
        details = asyncio.run(full_import(file, sys.argv[3]))
    else:
        phases = {
            "raw_etree": raw_etree,
            "raw_expat": raw_expat,
            "raw_lxml": raw_lxml,
            "h2s": healthkit_to_sqlite,
        }
        details = phases[phase](file)
    seconds = time.perf_counter() - started
    size = file.stat().st_size
    print(
        json.dumps(
            {
                "phase": phase,
                "seconds": round(seconds, 3),
                "bytes": size,
                "mb_s": round(size / seconds / 1e6, 2),
                "peak_rss_mb": round(
                    max(
                        peak_rss_mb() + details.pop("child_peak_rss_mb", 0),
                        details.pop("h2s_peak_rss_mb", 0),
                    ),
                    1,
                ),
                **details,
            }
        )
    )


if __name__ == "__main__":
    main()
