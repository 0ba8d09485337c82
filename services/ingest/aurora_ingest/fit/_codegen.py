"""The fast path: one generated Python function per definition message.

Why generate code: a 100k-record ride is decoded field by field, and a
function with the column indices, invalid values, scales and enum tables
baked in as literals and locals runs several times faster than interpreting a
plan. Only numbers, profile names (repr) and references to a constants
namespace are emitted; nothing from the file's bytes (developer field names
included) is ever spliced into the source.
Definitions needing subfields, accumulators, array components or hr's quirks
use `_generic` instead, which returns the same values.
"""

from __future__ import annotations

from typing import Any

from ._layout import Column, Decoder, Layout, parse_string
from .profile import (
    FIELD_TIMESTAMP,
    FIT_DATETIME_MIN,
    MESG_DEVELOPER_DATA_ID,
    MESG_FIELD_DESCRIPTION,
    MESG_HR,
    fit_datetime,
    process_type,
)

_SLOW_MESSAGES = frozenset({MESG_HR, MESG_FIELD_DESCRIPTION, MESG_DEVELOPER_DATA_ID})


def eligible(layout: Layout) -> bool:
    if layout.num in _SLOW_MESSAGES:
        return False
    names: list[str] = []
    devs: set[str] = set()
    for col in layout.columns:
        if col.dev is not None:
            if col.num == FIELD_TIMESTAMP or col.dev.key in devs:
                return False
            devs.add(col.dev.key)
            continue
        fld = col.field
        if fld is None:
            names.append(f"unknown_{col.num}")
            continue
        if fld.subfields:
            return False
        for comp in fld.components or ():
            if comp.accumulate or col.kind != "scalar" or col.is_float:
                return False
            target = layout.mesg_type.fields.get(comp.def_num)
            if target is None or target.subfields:
                return False
            names.append(target.name)
        names.append(fld.name)
    return len(names) == len(set(names))


class _Source:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {
            "DT": fit_datetime,
            "PS": parse_string,
            "PT": process_type,
            "SO": _scale_offset_any,
        }

    def const(self, value: Any) -> str:
        name = f"K{len(self.consts)}"
        self.consts[name] = value
        return name

    def emit(self, line: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + line)


def compile_fast(layout: Layout) -> Decoder:
    src = _Source()
    src.emit("o = {}")
    src.emit("d = {}")
    for col in layout.columns:
        _emit_raw(src, col)
        if col.dev is not None:
            src.emit(f"d[{src.const(col.dev.key)}] = x")
            continue
        fld = col.field
        if fld is None:
            src.emit(f"o[{f'unknown_{col.num}'!r}] = x")
            continue
        for comp in fld.components or ():
            _emit_component(src, layout, comp)
        _emit_value(src, col, fld)
        if col.num == FIELD_TIMESTAMP:
            src.emit("if x is not None:")
            src.emit("st.last_ts = y; st.cts = x", 2)
        src.emit(f"o[{fld.name!r}] = {_processed(src, fld, 'y')}")
    src.emit("return o, d")
    code = "def decode(v, st):\n" + "\n".join(src.lines) + "\n"
    namespace = dict(src.consts)
    exec(compile(code, f"<fit layout {layout.name}>", "exec"), namespace)  # noqa: S102 - see module docstring
    decoder: Decoder = namespace["decode"]
    return decoder


def _emit_raw(src: _Source, col: Column) -> None:
    i = col.start
    if col.kind == "scalar":
        src.emit(f"x = v[{i}]")
        if col.is_float:
            src.emit("if x != x: x = None")
        else:
            src.emit(f"if x == {col.invalid!r}: x = None")
    elif col.kind == "string":
        src.emit(f"x = PS(v[{i}])")
    elif col.kind == "bytes":
        src.emit(f"x = v[{i}:{i + col.count}]")
        src.emit("if all(b == 255 for b in x): x = None")
    elif col.is_float:
        src.emit(f"x = tuple(None if e != e else e for e in v[{i}:{i + col.count}])")
    else:
        src.emit(f"x = tuple(None if e == {col.invalid!r} else e for e in v[{i}:{i + col.count}])")


def _emit_value(src: _Source, col: Column, fld: Any) -> None:
    """y = scale_offset(render(x)), as fitdecode computes a field's value."""
    enum = fld.type.enum
    expr = "x"
    if enum:
        src.emit(f"y = {src.const(enum)}.get(x, x) if x is not None else None")
        expr = "y"
    if fld.scale or fld.offset:
        if enum or col.kind != "scalar":
            src.emit(f"y = SO({src.const(fld)}, {expr})")
            return
        src.emit(f"y = None if x is None else {_arith('x', fld.scale, fld.offset)}")
        return
    if expr == "x":
        src.emit("y = x")


def _emit_component(src: _Source, layout: Layout, comp: Any) -> None:
    target = layout.mesg_type.fields[comp.def_num]
    mask = (1 << comp.bits) - 1
    src.emit("if x is None:")
    src.emit("c = None", 2)
    src.emit("else:")
    src.emit(f"c = (x >> {comp.bit_offset}) & {mask}", 2)
    if comp.scale or comp.offset:
        src.emit(f"c = {_arith('c', comp.scale, comp.offset)}", 2)
    if target.type.enum:
        src.emit(f"c = {src.const(target.type.enum)}.get(c, c)", 2)
    src.emit(f"o[{target.name!r}] = {_processed(src, target, 'c')}")


def _arith(var: str, scale: Any, offset: Any) -> str:
    expr = f"float({var}) / {scale!r}" if scale else var
    if offset:
        expr = f"({expr}) - {offset!r}"
    return expr


def _processed(src: _Source, fld: Any, var: str) -> str:
    kind = fld.type.name
    if kind == "date_time":
        ok = f"{var} is not None and {var}.__class__ is not tuple and {var} >= {FIT_DATETIME_MIN}"
        return f"(DT({var}) if {ok} else {var})"
    if kind in ("local_date_time", "bool", "localtime_into_day"):
        return f"PT({kind!r}, {var})"
    return var


def _scale_offset_any(fld: Any, value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_scale_offset_any(fld, x) for x in value)
    if isinstance(value, (int, float)):
        if fld.scale:
            value = float(value) / fld.scale
        if fld.offset:
            value = value - fld.offset
    return value
