"""`aurora import fit PATH...`: send activity files to a running suite and follow them.

A file (.fit or .zip) is uploaded as is; a folder's .fit and .zip files are
found recursively, and its loose .fit files travel as one zip built on the fly,
so a folder of 2,000 files is one upload with one job, not 2,000 requests.
Progress goes to stderr (a bar on a terminal, a line per change otherwise),
the summary table to stdout. Exit status: 0 when every file was imported (or
was already), 1 when any file was rejected or an upload failed, 2 on usage or
connection errors.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

POLL_INTERVAL_S = 0.5
CHUNK = 256 * 1024
FINISHED = ("done", "failed", "cancelled")
BAR_WIDTH = 30


class ImportAborted(Exception):  # noqa: N818 (an outcome shown to the user)
    pass


@dataclass
class Row:
    file: str
    status: str
    workouts: int = 0
    reason: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        good = {"imported", "duplicate", "skipped"}
        return 0 if all(r.status in good for r in self.rows) else 1


@dataclass(frozen=True)
class Source:
    path: Path  # what is uploaded
    label: str  # what the user named
    temporary: bool = False


def collect(paths: Sequence[Path], workdir: Path) -> list[Source]:
    """Files as given; a folder's zips one by one and its loose .fit files in one zip."""
    sources: list[Source] = []
    for path in paths:
        if path.is_file():
            sources.append(Source(path, str(path)))
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file())
            fits = [p for p in found if p.suffix.lower() == ".fit"]
            sources.extend(Source(p, str(p)) for p in found if p.suffix.lower() == ".zip")
            if fits:
                bundle = workdir / f"{path.name or 'folder'}-{secrets.token_hex(4)}.zip"
                with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
                    for fit in fits:
                        archive.write(fit, fit.relative_to(path).as_posix())
                sources.append(Source(bundle, f"{path}{os.sep}", temporary=True))
        else:
            raise ImportAborted(f"{path}: no such file or folder")
    return sources


class Progress:
    """One line on stderr: a bar when it is a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last = ""

    def show(self, label: str, done: int, total: int, unit: str) -> None:
        share = done / total if total else 1.0
        filled = int(BAR_WIDTH * share)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.line(f"{label} [{bar}] {done}/{total} {unit}")

    def line(self, line: str) -> None:
        if line == self.last:
            return
        self.last = line
        if self.tty:
            self.stream.write(f"\r{line}\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()
        self.last = ""


def multipart(path: Path, progress: Progress, label: str) -> tuple[AsyncIterator[bytes], int, str]:
    boundary = f"aurora-{secrets.token_hex(16)}"
    name = path.name.replace('"', "%22").replace("\r", "").replace("\n", "")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = path.stat().st_size
    kib = max(size // 1024, 1)

    async def body() -> AsyncIterator[bytes]:
        yield head
        sent = 0
        with path.open("rb") as file:
            while chunk := await asyncio.to_thread(file.read, CHUNK):
                sent += len(chunk)
                progress.show(f"upload {label}", sent * kib // max(size, 1), kib, "KiB")
                yield chunk
        yield tail

    return body(), len(head) + size + len(tail), f"multipart/form-data; boundary={boundary}"


def problem(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail or response.reason_phrase or f"HTTP {response.status_code}")


async def _upload_one(
    client: httpx.AsyncClient, source: Source, progress: Progress, report: Report
) -> None:
    body, length, content_type = multipart(source.path, progress, source.label)
    response = await client.post(
        "/uploads",
        content=body,
        headers={"content-type": content_type, "content-length": str(length)},
    )
    progress.end()
    if response.status_code in (401, 403):
        raise ImportAborted(f"the API refused the token: {problem(response)}")
    if response.status_code != 202:
        report.rows.append(Row(source.label, "rejected", 0, problem(response)))
        return
    upload: dict[str, Any] = response.json()
    while upload["status"] not in FINISHED:
        progress.show(source.label, upload["files_done"], upload["files_total"], "files")
        await asyncio.sleep(POLL_INTERVAL_S)
        polled = await client.get(f"/uploads/{upload['id']}")
        if polled.status_code != 200:
            raise ImportAborted(f"could not follow the upload: {problem(polled)}")
        upload = polled.json()
    progress.show(source.label, upload["files_done"], upload["files_total"], "files")
    progress.end()
    _summarise(source, upload, report)


def _summarise(source: Source, upload: dict[str, Any], report: Report) -> None:
    files: list[dict[str, Any]] = upload.get("files", [])
    if upload["container"] == "fit" and files:
        [only] = files
        reason = only.get("reason") or ""
        report.rows.append(Row(source.label, only["result"], only["workouts"], reason))
        return
    # Entries of a zip the user gave are "export.zip:path"; of a folder, "folder/path".
    separator = "" if source.temporary else ":"
    for item in files:
        name = f"{source.label}{separator}{item['name']}"
        report.rows.append(Row(name, item["result"], item["workouts"], item.get("reason") or ""))
    if upload["status"] != "done":
        report.rows.append(Row(source.label, upload["status"], 0, upload.get("error") or ""))


def api_client(
    url: str, token: str, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The gateway as one user; uploads of gigabytes need a long read timeout."""
    return httpx.AsyncClient(
        base_url=url,
        transport=transport,
        headers={"authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(60.0, connect=10.0),
    )


def token_from(args: Any) -> str | None:
    """--token or AURORA_TOKEN; None (after saying so on stderr) when neither is given."""
    token: str = args.token or os.environ.get("AURORA_TOKEN", "")
    if not token:
        print("aurora import: give an access token with --token or AURORA_TOKEN", file=sys.stderr)
        return None
    return token


def render(report: Report) -> str:
    header = Row("file", "status", 0, "reason")
    rows = [header, *report.rows]
    width = [max(len(r.file) for r in rows), max(len(r.status) for r in rows), len("workouts")]
    lines = []
    for i, row in enumerate(rows):
        workouts = "workouts" if i == 0 else str(row.workouts)
        cells = f"{row.file:<{width[0]}}  {row.status:<{width[1]}}  {workouts:>{width[2]}}"
        lines.append(f"{cells}  {row.reason}".rstrip())
    totals: dict[str, int] = {}
    for row in report.rows:
        totals[row.status] = totals.get(row.status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in sorted(totals.items()))
    total = sum(r.workouts for r in report.rows)
    lines.append(f"{len(report.rows)} file(s): {summary}; {total} workout(s)")
    return "\n".join(lines)


async def import_fit(
    paths: Sequence[Path],
    *,
    url: str,
    token: str,
    transport: httpx.AsyncBaseTransport | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    out = stdout or sys.stdout
    progress = Progress(stderr or sys.stderr)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="aurora-import-") as workdir:
        try:
            sources = collect(paths, Path(workdir))
            if not sources:
                raise ImportAborted("no .fit or .zip file found")
            async with api_client(url, token, transport) as client:
                for source in sources:
                    await _upload_one(client, source, progress, report)
        except ImportAborted as exc:
            progress.end()
            print(f"aurora import: {exc}", file=progress.stream)
            return 2
        except httpx.HTTPError as exc:
            progress.end()
            print(f"aurora import: cannot reach {url}: {exc}", file=progress.stream)
            return 2
    print(render(report), file=out)
    return report.exit_code


def main(args: Any) -> int:
    """Entry point of `aurora import fit` (argparse namespace from aurora_cli.main)."""
    token = token_from(args)
    if token is None:
        return 2
    return asyncio.run(import_fit([Path(p) for p in args.paths], url=args.url, token=token))
