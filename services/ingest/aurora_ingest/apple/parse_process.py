"""Parsing an export in a child process, so parsing and storing use both cores.

In one process the parser (expat callbacks and the mapping, all Python) and the
event loop (COPY, workouts, events) take turns on the GIL, and an import ran at
about half the speed of the parse alone. Here a child process opens the export,
parses it, normalises it and resolves its GPX routes; the parent only writes.
They talk through a pipe, whose small OS buffer is the back-pressure: the child
blocks on `send` until the parent has taken the previous batch, so at most two
batches exist at once, whatever the file size.

The child is a fresh interpreter running `child_main`,
not a multiprocessing fork: it inherits no database connection, event loop,
thread or lock of the service, and it does not depend on how the service's own
main module was started (multiprocessing's spawn and forkserver re-run it). It
costs about 0.8 s of start-up, nothing next to a multi-GB file. The job goes in
on stdin and messages come out on stdout, both as multiprocessing Connections
(length-prefixed pickles between two processes of this same code); an
ExportError crosses as (status, detail) and is raised again in the parent with
its 4xx status.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path

from aurora_ingest.apple.archive import ArchiveLimits, Export, open_export
from aurora_ingest.apple.errors import ExportError, ExportTooLargeError
from aurora_ingest.apple.gpx import parse_gpx
from aurora_ingest.apple.mapping import Normaliser, WorkoutDraft
from aurora_ingest.apple.parser import Limits, read_items
from aurora_ingest.records.rules import HealthFields

SKIP = frozenset({"HeartRateVariabilityMetadataList"})
BATCH_ROWS = 50_000
# Workouts are stored a batch at a time (one heart-rate query, one INSERT); a batch of
# drafts with their routes stays a few MB.
BATCH_WORKOUTS = 50


@dataclass(frozen=True)
class Opened:
    total_bytes: int


@dataclass(frozen=True)
class Batch:
    bytes_parsed: int
    rows: bytes
    samples: int
    workouts: list[WorkoutDraft]
    records: dict[str, int]


@dataclass(frozen=True)
class Done:
    bytes_parsed: int
    records: dict[str, int]
    skipped: dict[str, int]
    health: list[tuple[str, HealthFields]]
    peak_rss_mb: float


@dataclass(frozen=True)
class Failed:
    status: int
    detail: str


Message = Opened | Batch | Done | Failed


def peak_rss_mb() -> float:
    """This process's VmHWM: the parent cannot see a grandchild's rusage, and ru_maxrss
    would carry the parent's peak across fork + exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _with_route(draft: WorkoutDraft, export: Export) -> WorkoutDraft:
    """The GPX file a workout names, read from the zip here so the parent never opens it."""
    if not draft.route_file:
        return draft
    data = export.route(draft.route_file)
    if data is None:
        return draft
    points = parse_gpx(data, name=draft.route_file.lstrip("/"))
    return replace(draft, route=tuple(points))


@dataclass(frozen=True)
class ParseJob:
    path: Path
    user_id: uuid.UUID
    import_id: uuid.UUID
    archive_limits: ArchiveLimits
    xml_limits: Limits


def _parse(conn: Connection, job: ParseJob) -> None:
    norm = Normaliser(job.user_id, job.import_id)
    with open_export(job.path, job.archive_limits) as export:
        conn.send(Opened(export.total_bytes))
        parsed = 0

        def ship(parsed: int) -> None:
            rows, norm.rows = norm.rows, []
            workouts, norm.workouts = norm.workouts, []
            conn.send(
                Batch(
                    parsed,
                    "".join(rows).encode(),
                    len(rows),
                    [_with_route(w, export) for w in workouts],
                    dict(norm.counts),
                )
            )
            gc.collect()

        for parsed, items in read_items(export.xml, skip=SKIP, limits=job.xml_limits):
            norm.feed(items)
            if len(norm.rows) >= BATCH_ROWS or len(norm.workouts) >= BATCH_WORKOUTS:
                ship(parsed)
        ship(parsed)
    conn.send(
        Done(parsed, dict(norm.counts), dict(norm.skipped), norm.health.records(), peak_rss_mb())
    )


def child_main() -> None:
    """The child's entry point: every outcome, good or bad, ends as one message.

    stdout is kept for messages only: anything else printing lands on stderr.
    The cyclic garbage collector is off: the parse allocates millions of small
    tuples and dicts, none of them in a cycle, and the collector's passes over
    them cost as much as the parse itself (bench: 31 s -> 17 s on 1.5M
    records). A full collection after each shipped batch still bounds memory
    should anything ever form a cycle.
    """
    gc.disable()
    out = Connection(os.dup(1))
    os.dup2(2, 1)
    try:
        job = Connection(os.dup(0)).recv()
        _parse(out, job)
    except ExportError as exc:
        out.send(Failed(exc.status, exc.detail))
    except BaseException as exc:
        out.send(Failed(500, f"the export parser failed: {type(exc).__name__}: {exc}"))
        raise
    finally:
        out.close()


class ParseProcess:
    """The parent's handle on the child: receive messages, stop it whatever happens."""

    def __init__(self, job: ParseJob) -> None:
        self._process = subprocess.Popen(
            # Imported by name, not run as __main__: the messages must pickle as
            # this module's classes on both sides.
            [sys.executable, "-c", f"from {__name__} import child_main; child_main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        with Connection(os.dup(self._process.stdin.fileno())) as to_child:
            to_child.send(job)
        self._process.stdin.close()
        self._conn = Connection(os.dup(self._process.stdout.fileno()))
        self._process.stdout.close()

    async def receive(self) -> Message:
        """The next message; an ExportError from the child is raised here with its status."""
        try:
            message: Message = await asyncio.to_thread(self._conn.recv)
        except EOFError:
            code = await asyncio.to_thread(self._process.wait)
            raise RuntimeError(f"the export parser process died (exit code {code})") from None
        if isinstance(message, Failed):
            if message.status == 413:
                raise ExportTooLargeError(message.detail)
            if message.status < 500:
                raise ExportError(message.detail, status=message.status)
            raise RuntimeError(message.detail)
        return message

    async def stop(self) -> None:
        """Idempotent; kills a child still parsing (a cancelled or failed import)."""
        if self._process.poll() is None:
            self._process.kill()
        await asyncio.to_thread(self._process.wait)
        self._conn.close()
