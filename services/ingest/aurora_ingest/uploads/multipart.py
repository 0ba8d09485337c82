"""A streaming multipart/form-data reader (RFC 7578), fed chunk by chunk.

Starlette's form parser spools the whole body before the endpoint runs, which
is exactly what an upload limit must prevent (checklist 30); this reader lets
the endpoint count and stop at the first byte over the limit. It is sans-I/O:
`feed` returns events, so the parsing is tested without a server, and nothing
it keeps grows with the body (headers are capped, data is passed through).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MAX_HEADER_BYTES: Final = 16 * 1024
MAX_BOUNDARY = 70  # RFC 2046 §5.1.1


class MultipartError(ValueError):
    """The body is not the multipart document its Content-Type announced."""


@dataclass(frozen=True)
class PartStart:
    name: str
    filename: str | None
    content_type: str | None


@dataclass(frozen=True)
class PartData:
    data: bytes


@dataclass(frozen=True)
class PartEnd:
    pass


Event = PartStart | PartData | PartEnd


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a multipart/form-data Content-Type, or MultipartError."""
    if not content_type:
        raise MultipartError("the body must be multipart/form-data")
    media, params = parse_header(content_type)
    if media != "multipart/form-data":
        raise MultipartError("the body must be multipart/form-data")
    boundary = params.get("boundary", "")
    if not 0 < len(boundary) <= MAX_BOUNDARY or not boundary.isascii():
        raise MultipartError("multipart/form-data needs a boundary of 1 to 70 characters")
    return boundary.encode("ascii")


def parse_header(value: str) -> tuple[str, dict[str, str]]:
    """`type; a=1; b="x;y"` -> ("type", {"a": "1", "b": "x;y"}); quoted-pairs unescaped."""
    params: dict[str, str] = {}
    head, _, rest = value.partition(";")
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t;":
            i += 1
        start = i
        while i < n and rest[i] not in "=;":
            i += 1
        key = rest[start:i].strip().lower()
        val = ""
        if i < n and rest[i] == "=":
            i += 1
            while i < n and rest[i] in " \t":
                i += 1
            if i < n and rest[i] == '"':
                i += 1
                out: list[str] = []
                while i < n and rest[i] != '"':
                    if rest[i] == "\\" and i + 1 < n:
                        i += 1
                    out.append(rest[i])
                    i += 1
                i += 1  # the closing quote
                val = "".join(out)
            else:
                start = i
                while i < n and rest[i] != ";":
                    i += 1
                val = rest[start:i].strip()
        if key:
            params[key] = val
    return head.strip().lower(), params


class MultipartReader:
    """Feed the body's chunks in order, then `close()`; both return the events found."""

    def __init__(self, boundary: bytes) -> None:
        self._opening = b"--" + boundary
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray()
        self._state = "preamble"

    def feed(self, chunk: bytes) -> list[Event]:
        if self._state == "done":
            return []  # the epilogue is ignored
        self._buffer += chunk
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def close(self) -> list[Event]:
        if self._state != "done":
            raise MultipartError("the multipart body ended before its closing boundary")
        return []

    def _step(self, events: list[Event]) -> bool:
        """One transition; False when more bytes are needed."""
        buf = self._buffer
        if self._state == "preamble":
            at = buf.find(self._opening)
            if at < 0:
                # Keep a possible partial opening; a preamble is never needed.
                del buf[: max(len(buf) - len(self._opening), 0)]
                return False
            del buf[: at + len(self._opening)]
            self._state = "after_boundary"
            return True
        if self._state == "after_boundary":
            if len(buf) < 2:
                return False
            if buf[:2] == b"--":
                self._state = "done"
                buf.clear()
                return False
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > MAX_BOUNDARY:
                    raise MultipartError("malformed multipart boundary line")
                return False
            if buf[:end].strip(b" \t"):
                raise MultipartError("malformed multipart boundary line")
            del buf[: end + 2]
            self._state = "headers"
            return True
        if self._state == "headers":
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER_BYTES:
                    raise MultipartError("multipart part headers are too large")
                return False
            if end > MAX_HEADER_BYTES:
                raise MultipartError("multipart part headers are too large")
            events.append(_part_start(bytes(buf[:end])))
            del buf[: end + 4]
            self._state = "body"
            return True
        # body: everything up to the next delimiter is data
        at = buf.find(self._delimiter)
        if at < 0:
            keep = len(self._delimiter) - 1
            if len(buf) > keep:
                events.append(PartData(bytes(buf[: len(buf) - keep])))
                del buf[: len(buf) - keep]
            return False
        if at:
            events.append(PartData(bytes(buf[:at])))
        events.append(PartEnd())
        del buf[: at + len(self._delimiter)]
        self._state = "after_boundary"
        return True


def _part_start(raw: bytes) -> PartStart:
    headers: dict[str, str] = {}
    for line in raw.split(b"\r\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise MultipartError("malformed multipart part header")
        # Browsers send UTF-8 file names; anything undecodable is replaced, not fatal.
        headers[name.strip().lower().decode("ascii", "replace")] = value.strip().decode(
            "utf-8", "replace"
        )
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise MultipartError("a multipart part has no Content-Disposition")
    kind, params = parse_header(disposition)
    if kind != "form-data" or "name" not in params:
        raise MultipartError("a multipart part is not form-data with a name")
    filename = params.get("filename")
    return PartStart(
        name=params["name"], filename=filename, content_type=headers.get("content-type")
    )
