"""One compiled definition message: where each field sits and how it is read.

A definition is compiled once (and cached across files by its bytes): a single
`struct.Struct` unpacks a whole data record, and each column knows its slice
of the unpacked tuple, its invalid value and its profile field.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .messages import FitDecodeError
from .profile import BASE_TYPES, BYTE, MESSAGE_TYPES, STRING


@dataclass(frozen=True, slots=True)
class DevField:
    """A developer field as its field_description declared it."""

    index: int
    num: int
    base: int
    name: str | None

    @property
    def key(self) -> str:
        return self.name if self.name is not None else f"unknown_dev_{self.index}_{self.num}"


@dataclass(slots=True)
class Column:
    num: int
    base: int  # effective base type (misaligned fields read as bytes)
    start: int  # index of the first value in the unpacked tuple
    count: int  # values it spans in the unpacked tuple
    kind: str  # "scalar", "array", "bytes" or "string"
    invalid: Any
    is_float: bool
    field: Any = None  # fitdecode profile Field, None when unknown or developer
    dev: DevField | None = None


@dataclass(slots=True)
class State:
    """Per-FIT-file decoding state, as fitdecode keeps it."""

    last_ts: Any = 0
    cts: Any = 0  # compressed-timestamp accumulator
    hr_start: Any = 0
    acc: dict[int, dict[int, int]] = field(default_factory=dict)
    dev_types: dict[int, dict[int, DevField]] = field(default_factory=dict)


Decoder = Callable[[tuple[Any, ...], State], tuple[dict[str, Any], dict[str, Any]]]


@dataclass(slots=True)
class Layout:
    num: int
    name: str
    size: int
    unpack: Callable[..., tuple[Any, ...]]
    columns: list[Column]
    resets: tuple[tuple[int, int], ...]  # accumulators zeroed each time the definition is read
    mesg_type: Any
    decode: Decoder | None = None


def parse_columns(
    endian: str,
    mesg_type: Any,
    defs: list[tuple[int, int, int]],
    devs: list[tuple[DevField, int]],
    offset: int,
) -> tuple[str, list[Column]]:
    """Struct format and columns; refuses sizes no reader can honour."""
    fmt = [endian]
    columns: list[Column] = []
    start = 0
    fields = mesg_type.fields if mesg_type is not None else {}
    for num, size, base_num in defs:
        if size == 0:
            raise FitDecodeError(
                f"field {num} of message {_mesg_label(mesg_type, defs)} declares size 0",
                offset=offset,
            )
        base = base_num if base_num in BASE_TYPES else BYTE
        width = BASE_TYPES[base][2]
        if size % width:
            # Lenient like fitdecode: some devices (COROS) declare 1-byte uint32 fields.
            base = BYTE
        columns.append(_column(num, base, size, start, fmt, fields.get(num), None))
        start += columns[-1].count
    for dev, size in devs:
        width = BASE_TYPES[dev.base][2]
        if size == 0 or size % width:
            raise FitDecodeError(
                f"developer field {dev.num} (developer data index {dev.index}) "
                f"declares size {size}, "
                f"not a multiple of its {BASE_TYPES[dev.base][0]} type",
                offset=offset,
            )
        columns.append(_column(dev.num, dev.base, size, start, fmt, None, dev))
        start += columns[-1].count
    return "".join(fmt), columns


def _column(  # noqa: PLR0917 - internal constructor helper
    num: int, base: int, size: int, start: int, fmt: list[str], fld: Any, dev: DevField | None
) -> Column:
    _name, code, width, invalid = BASE_TYPES[base]
    if base == STRING:
        fmt.append(f"{size}s")
        return Column(num, base, start, 1, "string", None, False, fld, dev)
    count = size // width
    fmt.append(f"{count}{code}")
    is_float = code in "fd"
    if base == BYTE:
        return Column(num, base, start, count, "bytes", None, False, fld, dev)
    kind = "scalar" if count == 1 else "array"
    return Column(num, base, start, count, kind, invalid, is_float, fld, dev)


def _mesg_label(mesg_type: Any, defs: list[tuple[int, int, int]]) -> str:
    return str(mesg_type.name) if mesg_type is not None else "unknown"


def build_layout(
    num: int,
    endian: str,
    defs: list[tuple[int, int, int]],
    devs: list[tuple[DevField, int]],
    offset: int,
) -> Layout:
    mesg_type = MESSAGE_TYPES.get(num)
    fmt, columns = parse_columns(endian, mesg_type, defs, devs, offset)
    packer = struct.Struct(fmt)
    resets: list[tuple[int, int]] = []
    for col in columns:
        if col.field is not None and col.field.components:
            resets.extend((num, comp.def_num) for comp in col.field.components if comp.accumulate)
    name = str(mesg_type.name) if mesg_type is not None else f"unknown_{num}"
    return Layout(num, name, packer.size, packer.unpack_from, columns, tuple(resets), mesg_type)


def raw_value(col: Column, values: tuple[Any, ...]) -> Any:
    """The column's value after the base type's invalid check (fitdecode's raw_value)."""
    if col.kind == "scalar":
        x = values[col.start]
        if col.is_float:
            return None if math.isnan(x) else x
        return None if x == col.invalid else x
    if col.kind == "string":
        return parse_string(values[col.start])
    chunk = values[col.start : col.start + col.count]
    if col.kind == "bytes":
        return None if all(b == 0xFF for b in chunk) else chunk
    if col.is_float:
        return tuple(None if math.isnan(x) else x for x in chunk)
    inv = col.invalid
    return tuple(None if x == inv else x for x in chunk)


def parse_string(raw: bytes) -> str | None:
    end = raw.find(b"\0")
    text = raw if end < 0 else raw[:end]
    return text.decode("utf-8", errors="replace") or None
