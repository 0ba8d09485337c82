"""`aurora import apple-health export.zip`: upload an iPhone export and follow its import.

The file goes up as one streamed multipart body (`POST /uploads?kind=apple_health`),
then the upload's status is polled: stderr shows the bytes parsed and the
records read, each with its rate (a bar on a terminal, a line per change
otherwise), and stdout gets a summary table of the records by type. Exit
status: 0 when the export was imported, 1 when it was rejected, failed or was
cancelled, 2 on usage or connection errors.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from aurora_cli import importer
from aurora_cli.importer import ImportAborted, Progress


class ExportRejected(ImportAborted):
    """The API refused the file itself (4xx): exit status 1, like a failed import."""


HK_PREFIXES = ("HKQuantityTypeIdentifier", "HKCategoryTypeIdentifier", "HKDataType")


@dataclass
class Rates:
    """Bytes and records per second since the import started processing."""

    started: float | None = None

    def line(self, upload: dict[str, Any]) -> str:
        now = time.monotonic()
        if upload["status"] == "processing" and self.started is None:
            self.started = now
        elapsed = now - self.started if self.started is not None else 0.0
        parsed, total = upload["bytes_done"], max(upload["bytes_total"], 1)
        records = sum(upload.get("records", {}).values())
        mb = parsed / 1e6
        rate = f"{mb / elapsed:.1f} MB/s, {records / elapsed:,.0f} records/s" if elapsed else "-"
        return (
            f"{upload['status']}: {mb:,.1f}/{total / 1e6:,.1f} MB ({100 * parsed // total}%), "
            f"{records:,} records, {upload.get('workouts', 0)} workouts [{rate}]"
        )


def short_type(name: str) -> str:
    for prefix in HK_PREFIXES:
        if name.startswith(prefix):
            return name.removeprefix(prefix)
    return name


def render(upload: dict[str, Any], seconds: float) -> str:
    records: dict[str, int] = upload.get("records", {})
    rows = sorted(records.items(), key=lambda item: (-item[1], item[0]))
    width = max([len("type"), *(len(short_type(name)) for name, _ in rows)])
    lines = [f"{'type':<{width}}  {'records':>12}"]
    lines += [f"{short_type(name):<{width}}  {count:>12,}" for name, count in rows]
    total = sum(records.values())
    mb = upload["bytes_total"] / 1e6
    rate = f", {mb / seconds:.1f} MB/s, {total / seconds:,.0f} records/s" if seconds > 0 else ""
    lines.append(
        f"{upload['filename']}: {upload['status']}; {total:,} records, "
        f"{upload.get('workouts', 0)} workouts, {mb:,.1f} MB in {seconds:.1f} s{rate}"
    )
    if upload.get("error"):
        lines.append(f"reason: {upload['error']}")
    return "\n".join(lines)


async def _follow(
    client: httpx.AsyncClient, path: Path, progress: Progress
) -> tuple[dict[str, Any], float]:
    body, length, content_type = importer.multipart(path, progress, str(path))
    response = await client.post(
        "/uploads",
        params={"kind": "apple_health"},
        content=body,
        headers={"content-type": content_type, "content-length": str(length)},
    )
    progress.end()
    if response.status_code in (401, 403):
        raise ImportAborted(f"the API refused the token: {importer.problem(response)}")
    if response.status_code != 202:
        raise ExportRejected(f"{path}: rejected: {importer.problem(response)}")
    upload: dict[str, Any] = response.json()
    rates = Rates()
    started = time.monotonic()
    while upload["status"] not in importer.FINISHED:
        progress.line(rates.line(upload))
        await asyncio.sleep(importer.POLL_INTERVAL_S)
        polled = await client.get(f"/uploads/{upload['id']}")
        if polled.status_code != 200:
            raise ImportAborted(f"could not follow the upload: {importer.problem(polled)}")
        upload = polled.json()
    progress.line(rates.line(upload))
    progress.end()
    return upload, time.monotonic() - (rates.started or started)


async def import_apple_health(
    path: Path,
    *,
    url: str,
    token: str,
    transport: httpx.AsyncBaseTransport | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    out = stdout or sys.stdout
    progress = Progress(stderr or sys.stderr)
    try:
        if not await asyncio.to_thread(path.is_file):
            raise ImportAborted(f"{path}: no such file")
        async with importer.api_client(url, token, transport) as client:
            upload, seconds = await _follow(client, path, progress)
    except ImportAborted as exc:
        progress.end()
        print(f"aurora import: {exc}", file=progress.stream)
        return 1 if isinstance(exc, ExportRejected) else 2
    except httpx.HTTPError as exc:
        progress.end()
        print(f"aurora import: cannot reach {url}: {exc}", file=progress.stream)
        return 2
    print(render(upload, seconds), file=out)
    return 0 if upload["status"] == "done" else 1


def main(args: Any) -> int:
    """Entry point of `aurora import apple-health` (argparse namespace from aurora_cli.main)."""
    token = importer.token_from(args)
    if token is None:
        return 2
    return asyncio.run(import_apple_health(Path(args.path), url=args.url, token=token))
