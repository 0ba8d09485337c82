"""What the FIT decoder produces and the normaliser consumes.

Values follow fitdecode's conventions exactly (the differential test holds the
decoder to them): scaled and offset numbers, enum values as their profile
names, `date_time` fields as aware UTC datetimes, invalid values as None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class FitDecodeError(ValueError):
    """A file the strict decoder refuses, with the reason and where it was found."""

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{reason}{where}")
        self.reason = reason
        self.offset = offset


@dataclass(slots=True)
class FitMessage:
    name: str  # the profile's message name, or "unknown_<num>"
    num: int  # global message number
    fields: dict[str, Any]
    developer_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class FitFile:
    messages: list[FitMessage]
    # How many FIT files were chained in the stream (each with its own header and CRC).
    chained: int = 1
