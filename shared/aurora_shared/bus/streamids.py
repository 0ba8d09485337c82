"""Stream entry ids compared as numbers: '10-0' sorts after '9-5', not before."""

from __future__ import annotations


def parse_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def format_id(parts: tuple[int, int]) -> str:
    return f"{parts[0]}-{parts[1]}"


def next_id(entry_id: str) -> str:
    ms, seq = parse_id(entry_id)
    return format_id((ms, seq + 1))
