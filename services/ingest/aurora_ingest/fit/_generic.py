"""The general data-message path: subfields, components, accumulators, `hr` quirks.

It follows fitdecode's reader step by step (the differential test holds it to
that), then folds fitdecode's list of fields into the `fields` dict:
  * a field defined in the message wins over an expansion, unless it is None;
  * among expansions of different fields, the first non-None wins;
  * several components of ONE field expanding into the same name (hr's
    event_timestamp_12 -> event_timestamp x N) become a tuple, in order.
The fast path (`_codegen`) is used instead whenever a definition needs none of this.
"""

from __future__ import annotations

from typing import Any

from ._layout import Column, Layout, State, raw_value
from .profile import (
    FIELD_HR_EVENT_TIMESTAMP,
    FIELD_HR_EVENT_TIMESTAMP_12,
    FIELD_TIMESTAMP,
    MESG_HR,
    PROCESSED_TYPES,
    fit_datetime,
    process_type,
)


def resolve_subfield(fld: Any, columns: list[Column], raws: list[Any]) -> Any:
    if fld.subfields:
        for sub in fld.subfields:
            for ref in sub.ref_fields:
                for col, raw in zip(columns, raws, strict=False):
                    if col.dev is None and col.num == ref.def_num and ref.raw_value == raw:
                        return sub
    return fld


def render(fld: Any, raw: Any) -> Any:
    enum = fld.type.enum
    if enum and raw in enum:
        return enum[raw]
    return raw


def scale_offset(fld: Any, raw: Any) -> Any:
    if isinstance(raw, tuple):
        return tuple(scale_offset(fld, x) for x in raw)
    if isinstance(raw, (int, float)):
        if fld.scale:
            raw = float(raw) / fld.scale
        if fld.offset:
            raw = raw - fld.offset
    return raw


def component_raw(comp: Any, raw: Any) -> Any:
    """Raises LookupError when the component lies beyond the bytes present (fitdecode skips it)."""
    if raw is None:
        return None
    if isinstance(raw, tuple):
        if comp.bit_offset and comp.bit_offset >= len(raw) << 3:
            raise LookupError
        packed = 0
        for byte in reversed(raw):
            if byte is None:
                raise LookupError
            packed = (packed << 8) + byte
        raw = packed
    if isinstance(raw, int):
        return (raw >> comp.bit_offset) & ((1 << comp.bits) - 1)
    return raw


def accumulate(raw: int, acc: int, bits: int) -> int:
    top = 1 << bits
    mask = top - 1
    value = raw + (acc & ~mask)
    if raw < (acc & mask):
        value += top
    return value


def decode_generic(
    layout: Layout, values: tuple[Any, ...], st: State
) -> tuple[dict[str, Any], dict[str, Any]]:
    columns = layout.columns
    raws = [raw_value(col, values) for col in columns]
    fields: dict[str, Any] = {}
    expansions: list[tuple[str, Any]] = []
    dev: dict[str, Any] = {}
    num = layout.num
    has_ts12 = False
    for index, col in enumerate(columns):
        raw = raws[index]
        if col.dev is not None:
            if dev.get(col.dev.key) is None:
                dev[col.dev.key] = raw
            if col.num == FIELD_TIMESTAMP and raw is not None:
                st.last_ts, st.cts = raw, raw
            continue
        fld = col.field
        if fld is None:
            value: Any = raw
            name = f"unknown_{col.num}"
        else:
            fld = resolve_subfield(fld, columns, raws)
            if fld.components:
                expansions.extend(_expand(layout, fld, col, raw, columns, raws, st))
            value = scale_offset(fld, render(fld, raw))
            name = fld.name
        if col.num == FIELD_TIMESTAMP and raw is not None:
            st.last_ts, st.cts = value, raw
        elif num == MESG_HR and col.num == FIELD_HR_EVENT_TIMESTAMP:
            st.hr_start = st.last_ts
        if num == MESG_HR and col.num == FIELD_HR_EVENT_TIMESTAMP_12:
            has_ts12 = True
        if fld is not None and fld.type.name in PROCESSED_TYPES:
            value = process_type(fld.type.name, value)
        if fields.get(name) is None:
            fields[name] = value
    for name, value in expansions:
        if fields.get(name) is None:
            fields[name] = value
    if has_ts12 and "event_timestamp" in fields:
        fields["event_timestamp"] = _hr_datetimes(fields["event_timestamp"])
    return fields, dev


def _expand(  # noqa: PLR0917 - internal, called once per expanding field
    layout: Layout,
    fld: Any,
    col: Column,
    raw: Any,
    columns: list[Column],
    raws: list[Any],
    st: State,
) -> list[tuple[str, Any]]:
    """This field's components, one entry per target name (a tuple when repeated)."""
    is_ts12 = layout.num == MESG_HR and col.num == FIELD_HR_EVENT_TIMESTAMP_12
    produced: dict[str, list[Any]] = {}
    for comp in fld.components:
        try:
            craw = component_raw(comp, raw)
        except LookupError:
            continue
        if comp.accumulate and craw is not None:
            acc = st.acc.setdefault(layout.num, {})
            craw = accumulate(craw, acc.get(comp.def_num, 0), comp.bits)
            acc[comp.def_num] = craw
        craw = scale_offset(comp, craw)
        target = resolve_subfield(layout.mesg_type.fields[comp.def_num], columns, raws)
        value = render(target, craw)
        if is_ts12 and value is not None:
            value += st.hr_start
        if target.type.name in PROCESSED_TYPES:
            value = process_type(target.type.name, value)
        produced.setdefault(target.name, []).append(value)
    merged: list[tuple[str, Any]] = []
    for name, items in produced.items():
        if len(items) == 1:
            merged.append((name, items[0]))
        else:
            merged.append((name, tuple(items)))
    return merged


def _hr_datetimes(value: Any) -> Any:
    """fitdecode makes every hr.event_timestamp a datetime once event_timestamp_12 is present."""
    if isinstance(value, tuple):
        return tuple(None if v is None else fit_datetime(v) for v in value)
    return None if value is None else fit_datetime(value)
