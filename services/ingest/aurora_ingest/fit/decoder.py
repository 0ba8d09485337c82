"""A strict, fast FIT decoder whose values are identical to fitdecode's.

Strict: anything that is not a complete, CRC-valid FIT stream (or chain of
them) raises FitDecodeError with a precise reason and byte offset, and no
buffer is ever sized from a declared length; every declared size is checked
against the bytes actually present first. The one leniency, matching
fitdecode's default, is a field whose size is not a multiple of its base type
(COROS writes 1-byte uint32 fields): it is read as bytes.
Fast: each definition message compiles to one struct layout plus a generated
function (see _codegen), cached across files; CRCs use a 16-bit table.
"""

from __future__ import annotations

import struct
from typing import Any

from ._codegen import compile_fast, eligible
from ._crc import crc16
from ._generic import decode_generic
from ._layout import DevField, Layout, State, build_layout, raw_value
from .messages import FitDecodeError, FitFile, FitMessage
from .profile import (
    BASE_TYPES,
    BYTE,
    FIT_DATETIME_MIN,
    MESG_DEVELOPER_DATA_ID,
    MESG_FIELD_DESCRIPTION,
    fit_datetime,
)

_HEADER = struct.Struct("<BBHI4s")
_CACHE: dict[tuple[Any, ...], Layout] = {}
_CACHE_MAX = 4096
_DEVELOPER_MESSAGES = frozenset({MESG_DEVELOPER_DATA_ID, MESG_FIELD_DESCRIPTION})


def decode(data: bytes | memoryview, *, max_messages: int = 2_000_000) -> FitFile:
    buf = bytes(data)
    if not buf:
        raise FitDecodeError("empty file: no FIT header")
    messages: list[FitMessage] = []
    pos = 0
    files = 0
    while pos < len(buf):
        pos = _decode_file(buf, pos, files, messages, max_messages)
        files += 1
    return FitFile(messages, chained=files)


def _decode_file(buf: bytes, pos: int, index: int, out: list[FitMessage], max_messages: int) -> int:
    """One FIT file of the chain starting at pos; returns where the next one starts."""
    left = len(buf) - pos
    if left < 12:
        what = (
            "truncated FIT header"
            if index == 0
            else f"{left} trailing bytes after the last file's CRC"
        )
        raise FitDecodeError(f"{what} ({left} bytes, a header needs 12)", offset=pos)
    header_size: int
    data_size: int
    header_size, _protocol, _profile, data_size, magic = _HEADER.unpack_from(buf, pos)
    if magic != b".FIT":
        raise FitDecodeError("not a FIT file: no '.FIT' signature in the header", offset=pos)
    if header_size not in (12, 14):
        raise FitDecodeError(
            f"unsupported header size {header_size} (FIT headers are 12 or 14 bytes)", offset=pos
        )
    if left < header_size:
        raise FitDecodeError(f"truncated FIT header ({left} of {header_size} bytes)", offset=pos)
    if header_size == 14:
        stored = buf[pos + 12] | (buf[pos + 13] << 8)
        if stored and stored != crc16(buf[pos : pos + 12]):
            raise FitDecodeError(f"header CRC mismatch (stored 0x{stored:04x})", offset=pos)
    start = pos + header_size
    end = start + data_size
    if data_size == 0:
        raise FitDecodeError("the file holds no records (data size 0)", offset=pos)
    if end + 2 > len(buf):
        # Still read what is there, in stream order: a fault before the cut (a
        # writer's undefined local message) is part of the precise reason.
        missing = (
            f"truncated file: the header declares {data_size} data bytes and a 2-byte CRC, "
            f"but only {len(buf) - start} bytes follow it"
        )
        try:
            _records(buf, start, min(end, len(buf)), end, out, max_messages)
        except FitDecodeError as fault:
            raise FitDecodeError(f"{missing}; {fault.reason}", offset=fault.offset) from None
        raise FitDecodeError(missing, offset=pos)
    if crc16(buf[pos : end + 2]) != 0:
        stored = buf[end] | (buf[end + 1] << 8)
        reason = f"file CRC mismatch (stored 0x{stored:04x}, computed 0x{crc16(buf[pos:end]):04x})"
        try:  # a structural fault explains the mismatch better (a recording cut short)
            _records(buf, start, end, end, [], max_messages)
        except FitDecodeError as fault:
            raise FitDecodeError(f"{reason}; {fault.reason}", offset=fault.offset) from None
        raise FitDecodeError(reason, offset=end)
    _records(buf, start, end, end, out, max_messages)
    return end + 2


def _overrun(what: str, p: int, end: int, declared_end: int) -> FitDecodeError:
    if end < declared_end:
        return FitDecodeError(f"reading stops at a {what} cut off by the end of the file", offset=p)
    return FitDecodeError(
        f"a {what} runs past the end of the data section the header declares "
        "(a recording cut short, or a wrong data size)",
        offset=p,
    )


def _records(  # noqa: PLR0917 - the hot loop; positional on purpose
    buf: bytes, p: int, end: int, declared_end: int, out: list[FitMessage], max_messages: int
) -> None:
    st = State()
    defs: list[Layout | None] = [None] * 16
    append = out.append
    try:
        while p < end:
            h = buf[p]
            if h & 0x80:
                lay = defs[(h >> 5) & 3]
            elif h & 0x40:
                p = _definition(buf, p, end, declared_end, h, defs, st)
                continue
            else:
                lay = defs[h & 0xF]
            if lay is None:
                local = (h >> 5) & 3 if h & 0x80 else h & 0xF
                raise FitDecodeError(
                    f"data record uses local message {local}, which no definition declared",
                    offset=p,
                )
            q = p + 1 + lay.size
            if q > end:
                raise _overrun(f"data record ({lay.name})", p, end, declared_end)
            values = lay.unpack(buf, p + 1)
            decoder = lay.decode
            if decoder is None:
                fields, dev = decode_generic(lay, values, st)
            else:
                fields, dev = decoder(values, st)
            if h & 0x80:
                _compressed_timestamp(h & 0x1F, fields, st)
            if lay.num in _DEVELOPER_MESSAGES:
                _developer(lay, values, st, p)
            append(FitMessage(lay.name, lay.num, fields, dev))
            if len(out) > max_messages:
                raise FitDecodeError(f"more than {max_messages} messages", offset=p)
            p = q
    except FitDecodeError:
        raise
    except (ArithmeticError, TypeError, ValueError, LookupError, OSError) as exc:
        # Values no profile rule can apply to (a timestamp declared as a byte
        # array, a date beyond datetime's range...): refuse the file, never crash.
        raise FitDecodeError(
            f"a record holds values its message type cannot have ({exc})", offset=p
        ) from None


def _compressed_timestamp(offset: int, fields: dict[str, Any], st: State) -> None:
    acc = st.cts
    if acc.__class__ is not int:
        raise FitDecodeError("compressed timestamp after a timestamp that is not an integer")
    ts = offset + (acc & ~0x1F)
    if offset < (acc & 0x1F):
        ts += 0x20
    st.cts = ts
    if fields.get("timestamp") is None:
        fields["timestamp"] = fit_datetime(ts) if ts >= FIT_DATETIME_MIN else ts


def _definition(  # noqa: PLR0917 - called from the hot loop
    buf: bytes, p: int, end: int, declared_end: int, h: int, defs: list[Layout | None], st: State
) -> int:
    if p + 6 > end:
        raise _overrun("definition record", p, end, declared_end)
    big = buf[p + 2] != 0
    endian = ">" if big else "<"
    num = (buf[p + 3] << 8 | buf[p + 4]) if big else (buf[p + 3] | buf[p + 4] << 8)
    count = buf[p + 5]
    q = p + 6 + 3 * count
    dev_specs: list[tuple[DevField, int]] = []
    if h & 0x20:
        if q + 1 > end:
            raise _overrun("definition record", p, end, declared_end)
        ndev = buf[q]
        for i in range(ndev):
            k = q + 1 + 3 * i
            if k + 3 > end:
                break
            dev_specs.append((_dev_field(st, buf[k + 2], buf[k], num, p), buf[k + 1]))
        q += 1 + 3 * ndev
    if q > end:
        raise _overrun("definition record", p, end, declared_end)
    fields = [(buf[k], buf[k + 1], buf[k + 2]) for k in range(p + 6, p + 6 + 3 * count, 3)]
    key = (num, endian, tuple(fields), tuple(dev_specs))
    lay = _CACHE.get(key)
    if lay is None:
        lay = build_layout(num, endian, fields, dev_specs, p)
        lay.decode = compile_fast(lay) if eligible(lay) else None
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = lay
    for mesg, target in lay.resets:
        st.acc.setdefault(mesg, {})[target] = 0
    defs[h & 0xF] = lay
    return q


def _dev_field(st: State, index: int, num: int, mesg: int, offset: int) -> DevField:
    fields = st.dev_types.get(index)
    if fields is None:
        raise FitDecodeError(
            f"message {mesg} uses developer data index {index}, "
            "which no developer_data_id declared",
            offset=offset,
        )
    dev = fields.get(num)
    if dev is None:
        raise FitDecodeError(
            f"message {mesg} uses developer field {num} of index {index}, "
            "which no field_description declared",
            offset=offset,
        )
    return dev


def _developer(lay: Layout, values: tuple[Any, ...], st: State, offset: int) -> None:
    """Register developer_data_id / field_description from their raw values, as fitdecode does."""
    raws = {col.num: raw_value(col, values) for col in reversed(lay.columns) if col.dev is None}
    index = raws.get(0 if lay.num == MESG_FIELD_DESCRIPTION else 3)
    if not isinstance(index, int):
        raise FitDecodeError(f"{lay.name} without a developer_data_index", offset=offset)
    if lay.num == MESG_DEVELOPER_DATA_ID:
        st.dev_types[index] = {}
        return
    if index not in st.dev_types:
        raise FitDecodeError(
            f"field_description for undeclared developer data index {index}", offset=offset
        )
    num = raws.get(1)
    if not isinstance(num, int):
        raise FitDecodeError("field_description without a field_definition_number", offset=offset)
    base = raws.get(2)
    if base is None:
        base = BYTE
    elif base not in BASE_TYPES:
        raise FitDecodeError(f"field_description declares unknown base type {base}", offset=offset)
    name = raws.get(3)
    st.dev_types[index][num] = DevField(index, num, base, name if isinstance(name, str) else None)
